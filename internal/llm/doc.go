// Package llm holds medic's optional model support: two small hand-written
// chat clients (any OpenAI-compatible /v1/chat/completions server, and the
// Anthropic Messages API) behind one provider-neutral Client, and the tool
// loop a specialist runs when it has a model configured.
//
// The model is an adviser, never an actor. Run offers it only the read-only
// tools a specialist allowlists, refuses and flags every other tool it asks
// for, sends it log and tool text only after redaction and only inside
// <untrusted-data> delimiters, and returns its answer as a Proposal that code
// and people review. Nothing in this package chooses, previews or executes
// an action, and it must never be given a tool that writes.
//
// Bad model behaviour (malformed JSON, loops, disallowed tools, obeying text
// planted in a log) becomes a Flag or an Outcome in the Transcript, never a
// panic, a hang or an action. Errors never contain the API key.
package llm
