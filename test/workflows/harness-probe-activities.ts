/** The probe's activity: reports which process ran it, so the test can tell a real worker executed it. */
export function createProbeActivities() {
  return {
    async describeWorker(text: string): Promise<{ pid: number; echoed: string }> {
      return { pid: process.pid, echoed: text.toUpperCase() };
    },
  };
}
export type ProbeActivities = ReturnType<typeof createProbeActivities>;
