package config

import "time"

// Memory configures the failure memory: the records of past failures that
// triage looks up, with what fixed them and how far each is trusted.
type Memory struct {
	Embedder Embedder `yaml:"embedder"`
	// TopK is how many similar past failures a lookup returns.
	TopK int `yaml:"top_k"`
	// MinSimilarity is the cosine similarity a similar (not identical)
	// past failure needs to change a diagnosis.
	MinSimilarity float64 `yaml:"min_similarity"`
	// MinTrust is the trust a past failure needs to change a diagnosis.
	MinTrust float64 `yaml:"min_trust"`
	// SyncInterval is how often this process reads the records other
	// processes wrote.
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// Embedder kinds.
const (
	// EmbedderHash is the built-in embedder: deterministic, no network,
	// no model.
	EmbedderHash = "hash"
	// EmbedderOpenAI is any OpenAI-compatible POST /v1/embeddings server
	// (Ollama, vLLM, llama.cpp, OpenAI).
	EmbedderOpenAI = "openai"
)

// Limits that Validate enforces on the memory section.
const (
	MaxEmbedDimensions = 16384
	MaxMemoryTopK      = 100
)

var embedderKinds = []string{EmbedderHash, EmbedderOpenAI}

// Embedder selects how failures are turned into vectors for similarity
// search. Changing it leaves the records embedded by the old one out of
// similarity search; signature lookup still finds them.
type Embedder struct {
	Kind string `yaml:"kind"`
	// URL is the server root for kind openai, e.g. http://localhost:11434.
	URL   string `yaml:"url"`
	Model string `yaml:"model"`
	// APIKey is sent as a bearer token when set (kind openai).
	APIKey Secret `yaml:"api_key"`
	// Dimensions is the vector length: required for kind openai (the
	// model's), optional for hash (0 means 256).
	Dimensions int `yaml:"dimensions"`
	// Timeout bounds one embeddings request (kind openai).
	Timeout time.Duration `yaml:"timeout"`
}

func defaultMemory() Memory {
	return Memory{
		Embedder:      Embedder{Kind: EmbedderHash, Timeout: 10 * time.Second},
		TopK:          5,
		MinSimilarity: 0.85,
		MinTrust:      0.4,
		SyncInterval:  30 * time.Second,
	}
}

func (m Memory) validate(v *validator) {
	m.Embedder.validate(v)
	if m.TopK < 1 || m.TopK > MaxMemoryTopK {
		v.add("memory.top_k", "want from 1 to %d similar past failures, got %d", MaxMemoryTopK, m.TopK)
	}
	if !(m.MinSimilarity > 0 && m.MinSimilarity <= 1) { // also catches NaN
		v.add("memory.min_similarity", "want a cosine similarity above 0 and at most 1, got %v", m.MinSimilarity)
	}
	if !(m.MinTrust > 0 && m.MinTrust < 1) {
		v.add("memory.min_trust", "want a trust strictly between 0 and 1 (a new record has 0.5), got %v", m.MinTrust)
	}
	v.positive("memory.sync_interval", m.SyncInterval)
}

func (e Embedder) validate(v *validator) {
	const p = "memory.embedder"
	v.oneOf(p+".kind", e.Kind, embedderKinds)
	if e.Dimensions < 0 || e.Dimensions > MaxEmbedDimensions {
		v.add(p+".dimensions", "want from 1 to %d (or 0 for the hash embedder's 256), got %d", MaxEmbedDimensions, e.Dimensions)
	}
	v.positive(p+".timeout", e.Timeout)
	switch e.Kind {
	case EmbedderOpenAI:
		switch {
		case e.URL == "":
			v.add(p+".url", "must be set for kind openai: the server root, such as http://localhost:11434 (Ollama) or https://api.openai.com")
		case httpURLProblem(e.URL) != "":
			v.add(p+".url", "%s", httpURLProblem(e.URL))
		}
		if e.Model == "" {
			v.add(p+".model", "must be set for kind openai: the embedding model, such as nomic-embed-text or text-embedding-3-small")
		}
		if e.Dimensions == 0 {
			v.add(p+".dimensions", "must be set for kind openai to the model's vector length (nomic-embed-text: 768, text-embedding-3-small: 1536)")
		}
	case EmbedderHash:
		const hint = "is only used with kind openai: set memory.embedder.kind: openai, or remove it"
		if e.URL != "" {
			v.add(p+".url", "%s", hint)
		}
		if e.Model != "" {
			v.add(p+".model", "%s", hint)
		}
		if e.APIKey.IsSet() {
			v.add(p+".api_key", "%s", hint)
		}
	}
}
