/** How the demo fails: a step of its story (or its set-up) that went wrong ends the demo with this reason. */
export class DemoFailure extends Error {}
