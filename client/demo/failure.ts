/** How the demo fails: a step of its story (or its set-up) that went wrong ends the demo with this reason. */

/** A story step that went wrong: the demo ends with this reason, naming the step. */
export class DemoFailure extends Error {}
