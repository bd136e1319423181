/**
 * Types of the WebSocket API's route events, with the authorizer context on $connect.
 */
import type { APIGatewayProxyResult, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';

export type WsEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    authorizer?: Record<string, string | number | boolean | undefined>;
  };
};
export type WsResult = APIGatewayProxyResult;
