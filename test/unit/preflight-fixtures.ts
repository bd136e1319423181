/**
 * Templates shaped as `cdk synth` writes the stack's, for the pre-flight tests (test/fixtures
 * is being edited elsewhere; move it there when that settles).
 */

/** A template shaped as `cdk synth` writes the stack's: readers reserving `readerConcurrency` each. */
export function synthesizedTemplate(readerConcurrency: number, writerMaximumConcurrency = 27) {
  const reader = readerConcurrency > 0 ? { ReservedConcurrentExecutions: readerConcurrency } : {};
  return {
    Resources: {
      WriterFunction9FC85C31: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler', MemorySize: 512 } },
      WriterFunctionSqsEventSourceDataHandlerQueueRecordsDDA52C76259E0B75: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { FunctionName: { Ref: 'WriterFunction9FC85C31' }, BatchSize: 100, ScalingConfig: { MaximumConcurrency: writerMaximumConcurrency } },
      },
      RecordsQueryFunction299C8ECC: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler', ...reader } },
      RecordsSeriesFunction1C7D0626: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler', ...reader } },
      SwingAnalyzeFunctionB3F32FBC: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler', ...reader } },
      RecordQueue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 60 } },
    },
  };
}
