/**
 * The SQS client of this execution environment, built once at module scope. Its endpoint comes
 * from the SDK's standard variables (AWS_ENDPOINT_URL_SQS), so the local runtime and LocalStack
 * redirect it without code changes. A module of its own, so a function that needs no queue
 * never loads the SQS SDK.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { SERVICE_REQUEST_HANDLER } from './request-deadlines';

// Always send to the resolved endpoint: on AWS it is the queue's own; locally the queue URL's
// host is only a label, and the endpoint variable is what points at the embedded queue.
export const sqsClient = new SQSClient({ useQueueUrlAsEndpoint: false, requestHandler: SERVICE_REQUEST_HANDLER });
