import { Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { FlowLogDestination, FlowLogTrafficType, GatewayVpcEndpointAwsService, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_AZ_IDS, pinSubnetsByRegion, pinSubnetsToZoneIds } from './availability-zones';

export interface NetworkProps {
  /**
   * The zones, by ID (`use1-az1`), that the VPC spans: the same physical zones in every
   * account. At least two. Not with `availabilityZones`.
   * @default - see `availabilityZones`
   */
  readonly availabilityZoneIds?: readonly string[];
  /**
   * The zones, by name (`eu-west-1a`), that the VPC spans. Names map to different physical
   * zones in each account, and CDK checks them against the account's zones, so this needs a
   * stack with a concrete account and region. At least two. Not with `availabilityZoneIds`.
   * @default - in a region listed in DEFAULT_AZ_IDS (us-east-1), the zone IDs listed there,
   * which leave out the zones where RDS Proxy does not run; elsewhere three zones chosen by
   * CDK (two when the stack's region is unknown at synth time)
   */
  readonly availabilityZones?: readonly string[];
  /**
   * NAT gateways for the functions in the VPC. They need one to reach SQS, Secrets Manager and
   * the WebSocket management API (which has no VPC endpoint). @default 1
   */
  readonly natGateways?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: RetentionDays;
}

/**
 * The VPC: public subnets (NAT), private subnets with egress for the functions, isolated
 * subnets for the database and its proxy, a free DynamoDB gateway endpoint, and flow logs.
 */
export class Network extends Construct {
  public readonly vpc: Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const { availabilityZoneIds: ids, availabilityZones: names } = props;
    if (ids && names) throw new Error('Network: give availabilityZoneIds or availabilityZones, not both');
    for (const given of [ids, names]) {
      if (given && given.length < 2) throw new Error('Network: the database and its proxy need at least two availability zones');
    }
    const { region } = Stack.of(this);
    const regionDefault = Token.isUnresolved(region) ? undefined : DEFAULT_AZ_IDS[region];
    const pinTo = ids ?? (names ? undefined : regionDefault);
    this.vpc = new Vpc(this, 'Vpc', {
      // Pinned subnets get their zone by ID below; the names given to CDK here are placeholders
      // that also let it lay out every zone when the region is unknown at synth time.
      ...(names
        ? { availabilityZones: [...names] }
        : pinTo
          ? { availabilityZones: pinTo.map((_, i) => Fn.select(i, Fn.getAzs())) }
          : { maxAzs: 3 }),
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'functions', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // Connection-table traffic stays off the NAT, at no cost.
      gatewayEndpoints: { DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB } },
    });
    if (pinTo) pinSubnetsToZoneIds(this.vpc, pinTo);
    // Region unknown until deploy time: pin by a condition on the region instead.
    else if (!names && Token.isUnresolved(region)) pinSubnetsByRegion(this, this.vpc, DEFAULT_AZ_IDS);
    this.vpc.addFlowLog('FlowLogs', {
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, 'FlowLogGroup', { retention: props.flowLogRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      ),
      trafficType: FlowLogTrafficType.REJECT,
    });
  }
}
