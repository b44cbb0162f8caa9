package ingest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/ingest"
)

func TestSignature(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	body := []byte(`{"dag_id":"etl"}`)
	good := ingest.Sign(secret, body)
	require.True(t, strings.HasPrefix(good, "sha256="))
	require.Len(t, good, len("sha256=")+64)

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"valid", secret, body, good, nil},
		{"surrounding spaces", secret, body, "  " + good + " ", nil},
		{"upper-case hex", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), nil},
		{"missing", secret, body, "", ingest.ErrSignatureMissing},
		{"blank", secret, body, "   ", ingest.ErrSignatureMissing},
		{"wrong secret", []byte("other"), body, good, ingest.ErrSignatureInvalid},
		{"tampered body", secret, []byte(`{"dag_id":"etl2"}`), good, ingest.ErrSignatureInvalid},
		{"no prefix", secret, body, strings.TrimPrefix(good, "sha256="), ingest.ErrSignatureInvalid},
		{"other algorithm", secret, body, "sha1=" + strings.TrimPrefix(good, "sha256="), ingest.ErrSignatureInvalid},
		{"bad hex", secret, body, "sha256=" + strings.Repeat("zz", 32), ingest.ErrSignatureInvalid},
		{"too short", secret, body, good[:len(good)-2], ingest.ErrSignatureInvalid},
		{"too long", secret, body, good + "00", ingest.ErrSignatureInvalid},
		{"prefix only", secret, body, "sha256=", ingest.ErrSignatureInvalid},
		{"no secret configured fails closed", nil, body, ingest.Sign(nil, body), ingest.ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ingest.VerifySignature(tt.secret, tt.body, tt.header)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			if len(tt.secret) > 0 {
				require.NotContains(t, err.Error(), string(tt.secret), "errors never quote the secret")
			}
		})
	}
}
