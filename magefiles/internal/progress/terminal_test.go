package progress

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// terminal is a tiny terminal emulator for tests: it applies the bytes a Progress writes
// to a screen of width×height cells with scrollback, the way a VT100-style terminal with
// auto-wrap and a tty that turns "\n" into "\r\n" would. It understands printable text,
// "\r", "\n", "\t" (tab stops every 8 columns) and the CSI sequences A (cursor up, stopping at the top of the screen),
// K (erase in line, 0 and 2) and J (erase below, 0); anything else is an error, so a
// Progress that starts using another sequence fails the tests until this learns it.
type terminal struct {
	width, height int
	rows          [][]rune // scrollback, then the screen
	top           int      // index in rows of the screen's first row
	row, col      int      // cursor, row indexing rows
	err           error
}

func newTerminal(width, height int) *terminal {
	return &terminal{width: width, height: height, rows: [][]rune{nil}}
}

// Write applies b. Escape sequences must not be split across writes.
func (t *terminal) Write(b []byte) (int, error) {
	for i := 0; i < len(b) && t.err == nil; {
		switch c := b[i]; {
		case c == '\r':
			t.col = 0
			i++
		case c == '\n':
			t.newline()
			i++
		case c == '\t':
			t.col = min((t.col/8+1)*8, t.width-1) // to the next tab stop; a tab never wraps
			i++
		case c == 0x1b:
			n := t.escape(b[i:])
			if n == 0 {
				return i, t.err
			}
			i += n
		case c < 0x20 || c == 0x7f:
			t.err = fmt.Errorf("control byte %#x at %d", c, i)
		default:
			r, n := utf8.DecodeRune(b[i:])
			t.put(r)
			i += n
		}
	}
	return len(b), t.err
}

// escape applies the CSI sequence at the start of b and returns its length, or 0 and
// sets t.err for a sequence it does not know.
func (t *terminal) escape(b []byte) int {
	if len(b) < 3 || b[1] != '[' {
		t.err = fmt.Errorf("unknown escape %q", b[:min(len(b), 8)])
		return 0
	}
	j := 2
	for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';') {
		j++
	}
	if j == len(b) {
		t.err = fmt.Errorf("unfinished escape %q", b)
		return 0
	}
	param, final := string(b[2:j]), b[j]
	n := 0
	if param != "" {
		var err error
		if n, err = strconv.Atoi(param); err != nil {
			t.err = fmt.Errorf("escape %q: %w", b[:j+1], err)
			return 0
		}
	}
	switch {
	case final == 'A':
		t.row = max(t.row-max(n, 1), t.top)
	case final == 'K' && n == 0:
		if t.col < len(t.rows[t.row]) {
			t.rows[t.row] = t.rows[t.row][:t.col]
		}
	case final == 'K' && n == 2:
		t.rows[t.row] = nil
	case final == 'J' && n == 0:
		if t.col < len(t.rows[t.row]) {
			t.rows[t.row] = t.rows[t.row][:t.col]
		}
		t.rows = t.rows[:t.row+1]
	default:
		t.err = fmt.Errorf("unknown escape %q", b[:j+1])
		return 0
	}
	return j + 1
}

func (t *terminal) newline() {
	t.row++
	t.col = 0
	if t.row == len(t.rows) {
		t.rows = append(t.rows, nil)
	}
	if t.row >= t.top+t.height {
		t.top = t.row - t.height + 1 // the screen scrolls; the top row goes to scrollback
	}
}

func (t *terminal) put(r rune) {
	if t.col == t.width {
		t.newline() // auto-wrap
	}
	line := t.rows[t.row]
	for len(line) <= t.col {
		line = append(line, ' ')
	}
	line[t.col] = r
	t.rows[t.row] = line
	t.col++
}

// text returns the scrollback and the screen, a line per row without trailing spaces, the
// cursor's row left out when it is empty.
func (t *terminal) text() []string {
	var out []string
	for i, r := range t.rows {
		s := strings.TrimRight(string(r), " ")
		if i == len(t.rows)-1 && s == "" {
			break
		}
		out = append(out, s)
	}
	return out
}
