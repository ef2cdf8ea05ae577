package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// completionRequest holds the fields of POST /v1/completions and
// /v1/chat/completions that the server reads; unknown fields are ignored.
type completionRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Stop             json.RawMessage    `json:"stop"`
	Seed             *int64             `json:"seed"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	Logprobs         json.RawMessage    `json:"logprobs"`
	TopLogprobs      *int               `json:"top_logprobs"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	User             string             `json:"user"`

	// Extensions (RWKV and common server fields).
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	TypicalP          *float64 `json:"typical_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	PenaltyDecay      *float64 `json:"penalty_decay"`
	NoRepeatNGramSize *int     `json:"no_repeat_ngram_size"`
	State             string   `json:"state"`

	// The anti-repetition samplers, with llama.cpp's names; see
	// sampler.Config for their meaning. dry_sequence_breakers is text
	// (llama.cpp's defaults "\n", ":", "\"", "*" when absent; [] for none).
	DRYMultiplier       *float64 `json:"dry_multiplier"`
	DRYBase             *float64 `json:"dry_base"`
	DRYAllowedLength    *int     `json:"dry_allowed_length"`
	DRYPenaltyLastN     *int     `json:"dry_penalty_last_n"`
	DRYSequenceBreakers []string `json:"dry_sequence_breakers"`
	XTCThreshold        *float64 `json:"xtc_threshold"`
	XTCProbability      *float64 `json:"xtc_probability"`
	TopNSigma           *float64 `json:"top_n_sigma"`
	Mirostat            *int     `json:"mirostat"`
	MirostatTau         *float64 `json:"mirostat_tau"`
	MirostatEta         *float64 `json:"mirostat_eta"`
	NGramPenalty        *float64 `json:"ngram_penalty"`
	NGramPenaltyN       *int     `json:"ngram_penalty_n"`
	NGramPenaltyLastN   *int     `json:"ngram_penalty_last_n"`
	// RepetitionDetector configures the live repetition detector for this
	// request, replacing the server's default (Config.Detector).
	RepetitionDetector *repetitionDetector `json:"repetition_detector"`
}

// repetitionDetector is the "repetition_detector" object: the fields of
// sampler.DetectorConfig (threshold 0 turns the detector off).
type repetitionDetector struct {
	Threshold float64 `json:"threshold"`
	N         int     `json:"n"`
	Window    int     `json:"window"`
	Action    string  `json:"action"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

// text returns a message's content: a string, or the concatenated text of
// an array of content parts.
func (m chatMessage) text() (string, error) {
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 || string(c) == "null" {
		return "", nil
	}
	var s string
	if c[0] == '"' {
		if err := json.Unmarshal(c, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(c, &parts); err != nil {
		return "", fmt.Errorf("content must be a string or an array of text parts")
	}
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part type %q is not supported (only text)", p.Type)
		}
		s += p.Text
	}
	return s, nil
}

// promptInput is a parsed "prompt": texts or token id lists.
type promptInput struct {
	texts  []string
	tokens [][]int
}

func parsePrompt(raw json.RawMessage) (promptInput, error) {
	raw = bytes.TrimSpace(raw)
	var p promptInput
	if len(raw) == 0 || string(raw) == "null" {
		return p, fmt.Errorf("prompt is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		p.texts = []string{s}
		return p, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		if len(ss) == 0 {
			return p, fmt.Errorf("prompt is an empty list")
		}
		p.texts = ss
		return p, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		if len(ids) == 0 {
			return p, fmt.Errorf("prompt is an empty list")
		}
		p.tokens = [][]int{ids}
		return p, nil
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil {
		if len(idss) == 0 {
			return p, fmt.Errorf("prompt is an empty list")
		}
		p.tokens = idss
		return p, nil
	}
	return p, fmt.Errorf("prompt must be a string, a list of strings, a list of token ids or a list of such lists")
}

func parseStop(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, fmt.Errorf("stop must be a string or a list of strings")
	}
	if len(ss) > 16 {
		return nil, fmt.Errorf("at most 16 stop sequences, got %d", len(ss))
	}
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseLogprobs reads "logprobs": an integer (completions) or a boolean
// (chat). It returns whether log-probabilities are wanted and, for
// completions, how many alternatives.
func parseLogprobs(raw json.RawMessage, chat bool) (bool, int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return false, 0, nil
	}
	if chat {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, 0, fmt.Errorf("logprobs must be a boolean")
		}
		return b, 0, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 || n > 20 {
		return false, 0, fmt.Errorf("logprobs must be an integer in [0, 20]")
	}
	return true, n, nil
}

// Response shapes.

type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		// CachedTokens counts prompt tokens resumed from the prefix cache.
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

type completionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

type chatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type chatTokenLogprob struct {
	Token       string           `json:"token"`
	Logprob     float64          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []chatTopLogprob `json:"top_logprobs"`
}

type chatLogprobs struct {
	Content []chatTokenLogprob `json:"content"`
}

type chatOutMessage struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      *chatOutMessage `json:"message,omitempty"`
	Delta        *chatOutMessage `json:"delta,omitempty"`
	Logprobs     *chatLogprobs   `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage,omitempty"`
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
