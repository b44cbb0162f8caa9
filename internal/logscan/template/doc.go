// Package template mines log templates online: it masks the variable parts
// of each line (numbers, hex, UUIDs, times, addresses and ports, paths,
// URLs, host names, e-mail addresses, sizes) and groups lines into
// templates such as "Deleting block <*> file <*>", each with an id that
// stays stable as the template is generalised and across restarts
// (Snapshot and Restore). Failure signatures are built from these ids and
// from Mask.
//
// Templates are written in the Loghub "<*>" style, canonicalised with the
// rules the Loghub-2.0 ground truth uses, so they can be scored against it
// (medic bench logparse).
//
// How lines become templates:
//
//  1. Mask (mask.go, tokenize.go): the line is cut to a bounded size,
//     split on whitespace, and each token's variable substrings become
//     "<*>" while the punctuation around them stays ("port:<*>",
//     "<*>:<*>"); a written-out date, a number's size unit and an HTTP
//     version after a request target join the value before them.
//  2. Match (cluster.go): a line joins a template of the same token count
//     whose every position is equal, already generalised to accept it, or
//     differs only in its numbers ("eth0"/"eth1"). A generalised position
//     keeps what the values share at delimiter boundaries
//     ("com.apple.<*>:").
//  3. Siblings (siblings.go): templates that differ in one or two
//     positions stay apart until the values there look like a variable
//     (enough distinct identifiers or words, or text next to a masked
//     value); then they merge.
//  4. Variable length (vararg.go): templates of different lengths that
//     differ only in a run of variables merge into one whose "<*>" stands
//     for the whole run.
//
// No rule knows a system, host, product or data set: every rule is a
// generic shape of log variables, and one configuration serves every log
// source. Log text is untrusted data: the package only measures and
// rewrites it, never interprets it, and bounds the work and memory any
// line can cause (see Options).
package template
