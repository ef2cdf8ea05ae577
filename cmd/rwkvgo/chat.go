package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/rwkvgo/rwkvgo/chat"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/statecache"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "chat", summary: "chat with the model in the terminal (RWKV World chat template)", run: runChat})
}

// chatInput is where `rwkvgo chat` reads the user's lines (a variable for tests).
var chatInput io.Reader = os.Stdin

func runChat(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	var mf modelFlags
	mf.register(fs)
	tokPath := fs.String("tokenizer", "", "tokenizer: World vocab .txt or tokenizer.json (default: found next to the model; bytes for vocab-256 models)")
	system := fs.String("system", "", "system prompt")
	maxTokens := fs.Int("max-tokens", 512, "maximum tokens per reply")
	samplerCfg := sampler.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := samplerCfg()
	if err != nil {
		return usageError{err}
	}
	if *maxTokens < 1 {
		return usagef("--max-tokens must be >= 1")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.ForModel(m.Config().Vocab, mf.model, *tokPath)
	if err != nil {
		return err
	}
	if eot, ok := tok.EndOfText(); ok {
		cfg.StopTokens = append(cfg.StopTokens, eot)
	}
	cfg.StopStrings = append(cfg.StopStrings, chat.Stop)
	// Each turn's prompt is the whole conversation; the prefix cache resumes
	// it from the state after the previous turns.
	cache, err := statecache.New(statecache.Config{MaxBytes: 256 << 20})
	if err != nil {
		return err
	}
	sch, err := scheduler.New(m, scheduler.Config{MaxBatch: 1, Cache: cache})
	if err != nil {
		return err
	}
	defer sch.Close()

	var history []chat.Message
	if *system != "" {
		history = append(history, chat.Message{Role: "system", Content: *system})
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	fmt.Fprintln(out, "Chat with the model. Commands: /reset (new conversation), /quit (or end of input). Ctrl-C stops a reply.")
	in := bufio.NewScanner(chatInput)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	for turn := uint64(0); ; turn++ {
		fmt.Fprint(out, "\nUser: ")
		out.Flush()
		if !in.Scan() {
			fmt.Fprintln(out)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/quit", "/exit":
			return nil
		case "/reset":
			history = history[:0]
			if *system != "" {
				history = append(history, chat.Message{Role: "system", Content: *system})
			}
			fmt.Fprintln(out, "(new conversation)")
			continue
		}
		history = append(history, chat.Message{Role: "user", Content: line})
		prompt, err := chat.Format(history)
		if err != nil {
			return err
		}
		turnCfg := cfg
		turnCfg.Seed = cfg.Seed + turn
		fmt.Fprint(out, "\nAssistant:")
		out.Flush()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		stream := tokenizer.NewStreamDecoder(tok)
		var reply strings.Builder
		var failure error
		for ev, err := range sch.Stream(ctx, scheduler.Request{Prompt: tok.Encode([]byte(prompt)), Sampler: turnCfg, MaxTokens: *maxTokens, Decode: tok.Decode}) {
			if err != nil {
				failure = err
				break
			}
			text := stream.WriteBytes(ev.Text)
			reply.WriteString(text)
			out.WriteString(text)
			out.Flush()
		}
		stop()
		tail := stream.Flush()
		reply.WriteString(tail)
		out.WriteString(tail + "\n")
		if failure != nil && ctx.Err() == nil {
			return failure
		}
		history = append(history, chat.Message{Role: "assistant", Content: reply.String()})
	}
}
