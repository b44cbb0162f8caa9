package memory

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// Embedder turns texts into vectors of Dim() float32s, one per text, in
// order. Implementations should return L2-normalised vectors; Memory
// normalises again anyway.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	// Name identifies the embedder and its configuration (model, dims), so
	// that vectors from different embedders are never compared.
	Name() string
}

// DefaultHashDim is the HashEmbedder's dimension unless configured.
const DefaultHashDim = 256

// HashEmbedder is the built-in embedder: the hashing trick over word
// unigrams, word bigrams and character trigrams, L2-normalised. It is
// deterministic, needs no network and no model, and is good at "same
// template, slightly different wording" rather than at meaning.
type HashEmbedder struct {
	dim int
}

var _ Embedder = (*HashEmbedder)(nil)

// NewHashEmbedder returns a HashEmbedder of dim dimensions (DefaultHashDim
// when dim <= 0).
func NewHashEmbedder(dim int) *HashEmbedder {
	if dim <= 0 {
		dim = DefaultHashDim
	}
	return &HashEmbedder{dim: dim}
}

// Dim returns the vector length.
func (h *HashEmbedder) Dim() int { return h.dim }

// Name returns "hash-ngram-v1/<dim>"; bump the version when the features
// change so stored vectors are recognised as stale.
func (h *HashEmbedder) Name() string { return fmt.Sprintf("hash-ngram-v1/%d", h.dim) }

// Embed embeds each text. It never fails; an empty text gives a zero vector.
func (h *HashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.embed(t)
	}
	return out, nil
}

// Feature weights: whole words carry more signal than their fragments.
const (
	weightWord    = 1.0
	weightBigram  = 0.7
	weightTrigram = 0.3
)

func (h *HashEmbedder) embed(text string) []float32 {
	v := make([]float64, h.dim)
	words := tokenize(text)
	for i, w := range words {
		h.add(v, "w:"+w, weightWord)
		if i > 0 {
			h.add(v, "b:"+words[i-1]+" "+w, weightBigram)
		}
		padded := []rune("^" + w + "$")
		for j := 0; j+3 <= len(padded); j++ {
			h.add(v, "c:"+string(padded[j:j+3]), weightTrigram)
		}
	}
	out := make([]float32, h.dim)
	var sum float64
	for _, x := range v {
		sum += x * x
	}
	if sum == 0 {
		return out
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out
}

// add hashes feature into a bucket with a hash-derived sign, so that
// collisions cancel out on average instead of piling up.
func (h *HashEmbedder) add(v []float64, feature string, w float64) {
	f := fnv.New64a()
	_, _ = f.Write([]byte(feature))
	sum := f.Sum64()
	idx := int(sum % uint64(h.dim))
	if sum>>63 == 1 {
		w = -w
	}
	v[idx] += w
}

// tokenize lowercases text and splits it into words of letters and digits,
// dropping pure numbers: they are ids, counts and times, not meaning.
// Dotted and snake_case identifiers (psycopg2.OperationalError) split into
// their parts as well as staying whole.
func tokenize(text string) []string {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '.'
	})
	words := make([]string, 0, len(fields))
	for _, f := range fields {
		f = strings.Trim(f, "._")
		if f == "" || isNumber(f) {
			continue
		}
		words = append(words, strings.ToLower(f))
		if strings.ContainsAny(f, "._") {
			for p := range strings.FieldsFuncSeq(f, func(r rune) bool { return r == '.' || r == '_' }) {
				if !isNumber(p) {
					words = append(words, strings.ToLower(p))
				}
			}
		}
	}
	return words
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) && r != '.' {
			return false
		}
	}
	return true
}

// normalize returns a unit-length copy of v, or an error when v is empty,
// zero, or holds NaN or Inf.
func normalize(v []float32) ([]float32, error) {
	if len(v) == 0 {
		return nil, ErrEmptyVector
	}
	var sum float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, ErrBadVector
		}
		sum += f * f
	}
	if sum == 0 {
		return nil, ErrZeroVector
	}
	inv := 1 / math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}
