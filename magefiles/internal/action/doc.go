// Package action is minimal's cached action: what determines a step's outputs, how to
// make them, and how to read its result back from them, with one helper, Do, that
// looks an action up in the action cache or runs it and stores what it made.
//
// A stage declares its actions (toolchain.CompileAction, verify.Target.Action,
// attest.ImageAction); the pipeline runs them with Do and knows none of their inputs.
// The cache checks every blob it returns; an entry whose outputs cannot be decoded is
// not used, and the action runs again.
package action
