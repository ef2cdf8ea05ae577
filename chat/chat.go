// Package chat is the chat template of RWKV World models.
//
// A conversation is rendered as turns separated by blank lines, each turn a
// role name, a colon, a space and the message:
//
//	System: You are a helpful assistant.
//
//	User: What is RWKV?
//
//	Assistant: An RNN with transformer-level performance.
//
//	User: Thanks!
//
//	Assistant:
//
// The prompt ends with "Assistant:" (no space: the model writes " " then the
// reply) and generation stops at the next "\n\nUser:" (Stop). Message text is
// trimmed and runs of blank lines inside it are collapsed to single newlines,
// as ChatRWKV does, because a blank line ends a turn. Roles: system (or
// developer), user, assistant.
package chat

import (
	"fmt"
	"regexp"
	"strings"
)

// Stop is the stop string that ends the assistant's turn.
const Stop = "\n\nUser:"

// Message is one turn of a conversation.
type Message struct {
	Role    string
	Content string
}

var blankLines = regexp.MustCompile(`\n\s*\n`)

// Normalize trims s, converts CRLF to LF and collapses blank lines.
func Normalize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSpace(s)
	for blankLines.MatchString(s) {
		s = blankLines.ReplaceAllString(s, "\n")
	}
	return s
}

// Turn renders one message as a turn, blank line included.
func Turn(m Message) (string, error) {
	name := ""
	switch strings.ToLower(m.Role) {
	case "system", "developer":
		name = "System"
	case "user":
		name = "User"
	case "assistant":
		name = "Assistant"
	default:
		return "", fmt.Errorf("chat: unknown role %q (want system, user or assistant)", m.Role)
	}
	return name + ": " + Normalize(m.Content) + "\n\n", nil
}

// Format renders a conversation as a prompt ending with "Assistant:".
func Format(msgs []Message) (string, error) {
	if len(msgs) == 0 {
		return "", fmt.Errorf("chat: no messages")
	}
	var b strings.Builder
	for _, m := range msgs {
		t, err := Turn(m)
		if err != nil {
			return "", err
		}
		b.WriteString(t)
	}
	b.WriteString("Assistant:")
	return b.String(), nil
}
