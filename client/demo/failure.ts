/** A story step that went wrong: the demo ends with this reason, naming the step. */
export class DemoFailure extends Error {}
