declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}

// Node 22.19 and later (npm's scripts run on 22); the types here are Node 20's.
declare namespace NodeJS {
  interface Process {
    /** The calling thread's CPU time, in µs. */
    threadCpuUsage?(previous?: CpuUsage): CpuUsage;
  }
}
