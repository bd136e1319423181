import { Annotations, Aws, CfnCondition, Fn, Stack, Token, Validations, type ICfnConditionExpression } from 'aws-cdk-lib';
import type { CfnSubnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';

/**
 * Availability Zones, by ID, that this stack uses by default in a region where a service it
 * needs is missing from some zones. AZ names (us-east-1a) map to different physical zones in
 * each account; AZ IDs (use1-az1) do not, and that is how AWS states such gaps:
 * - RDS Proxy is not offered in use1-az3 (RDS user guide, "Limitations for RDS Proxy"). A proxy
 *   given two subnets of which one is there cannot be created; given three or more, it is
 *   reported to drop that subnet and run in the others (re:Post, and the Terraform AWS
 *   provider's notes on aws_db_proxy).
 *
 * Each list holds three zones the database, its proxy and the functions can all use.
 */
export const DEFAULT_AZ_IDS: Readonly<Record<string, readonly string[]>> = {
  'us-east-1': ['use1-az1', 'use1-az2', 'use1-az4'],
};

/** Zone IDs where RDS Proxy cannot run, by region; the defaults above leave them out. */
export const PROXY_UNSUPPORTED_AZ_IDS: Readonly<Record<string, readonly string[]>> = {
  'us-east-1': ['use1-az3'],
};

/**
 * Fails when fewer than two of `ids` can hold an RDS Proxy (which needs two zones), and warns
 * when one of them cannot. Checked only when the region is known at synth time.
 */
export function checkProxyZones(scope: Construct, ids: readonly string[]): void {
  const { region } = Stack.of(scope);
  if (Token.isUnresolved(region)) return;
  const bad = ids.filter((id) => PROXY_UNSUPPORTED_AZ_IDS[region]?.includes(id));
  if (ids.length - bad.length < 2) {
    throw new Error(`availabilityZoneIds: RDS Proxy needs two zones it runs in; it does not run in ${bad.join(', ')} (${region})`);
  }
  if (bad.length > 0) Annotations.of(scope).addWarningV2('data-handler:proxyZone', `RDS Proxy does not run in ${bad.join(', ')}; it will use the other zones only`);
}

/** The VPC's subnets, each with the index of its zone (CDK lays each subnet group out over the zones in order). */
function subnetsByZone(vpc: Vpc): { subnet: CfnSubnet; zone: number }[] {
  return [vpc.publicSubnets, vpc.privateSubnets, vpc.isolatedSubnets].flatMap((group) =>
    group.map((s, zone) => ({ subnet: s.node.defaultChild as CfnSubnet, zone })),
  );
}

/**
 * Places every subnet of `vpc` in a zone given by ID instead of by name: CloudFormation's
 * `AvailabilityZoneId` replaces `AvailabilityZone`. Zone i of the VPC becomes `ids[i]`.
 */
export function pinSubnetsToZoneIds(vpc: Vpc, ids: readonly string[]): void {
  for (const { subnet, zone } of subnetsByZone(vpc)) {
    const id = ids[zone];
    if (!id) throw new Error(`availabilityZoneIds: the VPC spans ${zone + 1} zones or more, but only ${ids.length} IDs were given`);
    subnet.availabilityZone = undefined;
    subnet.availabilityZoneId = id;
  }
}

/**
 * For a stack whose region is known only at deploy time: in each region of `table`, the subnets
 * are pinned to its zone IDs (by a CloudFormation condition on the region); elsewhere they keep
 * the zones CloudFormation picks by name.
 */
export function pinSubnetsByRegion(scope: Construct, vpc: Vpc, table: Readonly<Record<string, readonly string[]>>): void {
  const entries = Object.entries(table).map(([region, ids], i) => ({
    ids,
    condition: new CfnCondition(scope, `PinnedZones${i}`, { expression: Fn.conditionEquals(Aws.REGION, region) }),
  }));
  if (entries.length === 0) return;
  const anyPinned: ICfnConditionExpression =
    entries.length === 1 ? entries[0]!.condition : Fn.conditionOr(...entries.map((e) => e.condition));
  const pinned = new CfnCondition(scope, 'PinnedZones', { expression: anyPinned });
  for (const { subnet, zone } of subnetsByZone(vpc)) {
    const byName = subnet.availabilityZone;
    subnet.availabilityZone = Fn.conditionIf(pinned.logicalId, Aws.NO_VALUE, byName) as unknown as string;
    subnet.availabilityZoneId = entries.reduceRight<unknown>(
      (otherwise, e) => Fn.conditionIf(e.condition.logicalId, e.ids[zone] ?? Aws.NO_VALUE, otherwise),
      Aws.NO_VALUE,
    ) as string;
    Validations.of(subnet).acknowledge({
      id: 'CloudFormation-Validate::F3020',
      reason: 'AvailabilityZone and AvailabilityZoneId are exclusive by a condition on the region: one of them is AWS::NoValue.',
    });
  }
}
