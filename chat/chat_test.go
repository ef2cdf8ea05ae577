package chat

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormat(t *testing.T) {
	p, err := Format([]Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "  Hi\r\n\r\nthere \n"},
		{Role: "assistant", Content: "Hello."},
		{Role: "user", Content: "Bye"},
	})
	require.NoError(t, err)
	require.Equal(t, "System: Be brief.\n\nUser: Hi\nthere\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:", p)
	_, err = Format(nil)
	require.Error(t, err)
	_, err = Format([]Message{{Role: "tool", Content: "x"}})
	require.ErrorContains(t, err, "unknown role")
	require.Equal(t, "a\nb", Normalize("a\n \n\nb"))
}
