package validate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

// Instruction is one Dockerfile instruction after line continuations are
// joined: Cmd is upper-case, Flags are the leading --flag=value words.
type Instruction struct {
	Line  int
	Cmd   string
	Flags []string
	Args  string
}

// Stage is one FROM ... block.
type Stage struct {
	From         string // image reference as written
	Name         string // AS name, "" if none
	Instructions []Instruction
}

// ParseDockerfile splits a Dockerfile into stages. It understands comments,
// parser directives, line continuations and --flags; that is all the
// structural checks need (Docker itself is not available in CI).
func ParseDockerfile(src string) (args []Instruction, stages []Stage, err error) {
	var pending strings.Builder
	startLine := 0
	flush := func() error {
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			return nil
		}
		cmd, rest, _ := strings.Cut(text, " ")
		ins := Instruction{Line: startLine, Cmd: strings.ToUpper(cmd)}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			flag, tail, _ := strings.Cut(rest, " ")
			ins.Flags = append(ins.Flags, flag)
			rest = strings.TrimSpace(tail)
		}
		ins.Args = rest
		switch {
		case ins.Cmd == "FROM":
			f := strings.Fields(ins.Args)
			if len(f) == 0 {
				return fmt.Errorf("line %d: FROM without image", ins.Line)
			}
			st := Stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("line %d: malformed FROM %q", ins.Line, ins.Args)
			}
			stages = append(stages, st)
		case len(stages) == 0:
			if ins.Cmd != "ARG" {
				return fmt.Errorf("line %d: %s before the first FROM", ins.Line, ins.Cmd)
			}
			args = append(args, ins)
		default:
			s := &stages[len(stages)-1]
			s.Instructions = append(s.Instructions, ins)
		}
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(src))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if pending.Len() == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			startLine = n
		} else if strings.HasPrefix(trimmed, "#") {
			continue // comments inside a continued instruction are dropped
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		pending.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if pending.Len() > 0 {
		return nil, nil, fmt.Errorf("line %d: unterminated line continuation", startLine)
	}
	return args, stages, nil
}

// ExecForm decodes a JSON-array (exec form) argument; ok is false for the
// shell form.
func ExecForm(args string) (words []string, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(args), "[") {
		return nil, false
	}
	if err := json.Unmarshal([]byte(args), &words); err != nil {
		return nil, false
	}
	return words, true
}

// Find returns the stage's instructions with command cmd.
func (s Stage) Find(cmd string) []Instruction {
	var out []Instruction
	for _, ins := range s.Instructions {
		if ins.Cmd == cmd {
			out = append(out, ins)
		}
	}
	return out
}
