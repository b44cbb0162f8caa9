package ingest

// CoalesceKeys exposes coalesceKeys to the external tests.
var CoalesceKeys = coalesceKeys
