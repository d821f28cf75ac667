package progress

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Default terminal size, used when $LINES or $COLUMNS is unset or not a positive number.
const (
	defaultHeight = 24
	defaultWidth  = 80
)

// Progress reports the tasks of one build. All its methods, and those of its tasks, are
// safe for concurrent use. A nil *Progress reports nothing.
//
// Output is best effort: a failed write to the underlying writer is not reported.
type Progress struct {
	w             io.Writer
	now           func() time.Time
	width, height int
	start         time.Time

	stop    chan struct{} // closed by Close to end the redraw loop
	stopped chan struct{} // closed by the redraw loop when it returns

	mu       sync.Mutex
	live     bool
	closed   bool
	total    int
	running  []*Task // in the order they started
	built    int
	cached   int
	failures []failure
	shown    []string // the live view's rows now on screen
	partial  []byte   // Write's unfinished line
}

// Task is one unit of work (an app on a platform) that goes through named steps and ends
// built, cached or failed. Only the first of Cached and Done counts; later calls, and
// calls after the Progress is closed, do nothing.
type Task struct {
	p             *Progress
	app, platform string

	// Guarded by p.mu.
	step        string
	started     time.Time
	stepStarted time.Time
	steps       int
	finished    bool
}

type failure struct {
	app, platform, step string
	err                 error
}

// New returns a Progress that writes to w, live or plain as described in the package
// documentation. Close it when the build ends.
func New(w io.Writer, opts ...Option) *Progress {
	o := makeOptions(opts)
	p := &Progress{
		w:      w,
		now:    o.now,
		width:  envInt(o.getenv, "COLUMNS", defaultWidth),
		height: envInt(o.getenv, "LINES", defaultHeight),
	}
	p.start = p.now()
	if o.live != nil {
		p.live = *o.live
	} else {
		p.live = isTerminal(w) && !isTrue(o.getenv("CI")) && o.getenv("TERM") != "dumb"
	}
	if p.live && o.refresh > 0 {
		p.stop = make(chan struct{})
		p.stopped = make(chan struct{})
		go p.loop(o.refresh)
	}
	return p
}

// isTerminal reports whether w is a file that is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

func envInt(getenv func(string) string, name string, def int) int {
	n, err := strconv.Atoi(getenv(name))
	if err != nil || n < 1 {
		return def
	}
	return n
}

// loop redraws the live view every d until Close.
func (p *Progress) loop(d time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.redraw()
		case <-p.stop:
			return
		}
	}
}

// SetTotal sets how many tasks the build has, for the done/total count. Until it is set
// the count shows only how many are done.
func (p *Progress) SetTotal(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
}

// Start records that app's task for platform has started its first step. Either of app
// and platform may be empty when the task is not per app or per platform.
func (p *Progress) Start(app, platform, step string) *Task {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t := &Task{p: p, app: app, platform: platform, step: step, started: now, stepStarted: now, steps: 1}
	if p.closed {
		t.finished = true
		return t
	}
	p.running = append(p.running, t)
	return t
}

// Step records that the task finished its current step and started the named one.
func (t *Task) Step(step string) {
	if t == nil {
		return
	}
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished || p.closed {
		return
	}
	now := p.now()
	if !p.live && t.step != "" {
		p.emitLocked(strings.Repeat(" ", len(p.counterLocked(0))) + " " + t.name() + " " + t.step + " " + formatDuration(now.Sub(t.stepStarted)))
	}
	t.step, t.stepStarted = step, now
	t.steps++
}

// Cached records that the task finished from the cache.
func (t *Task) Cached() {
	if t == nil {
		return
	}
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.finishLocked() {
		return
	}
	p.cached++
	if !p.live {
		p.emitLocked(p.counterLocked(p.doneLocked()) + " " + t.name() + " cached")
	}
}

// Done records that the task ended: built when err is nil, failed otherwise. A failure is
// printed at once, in both modes, with the step it failed in and the whole error.
func (t *Task) Done(err error) {
	if t == nil {
		return
	}
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !t.finishLocked() {
		return
	}
	now := p.now()
	step := t.step
	if step == "" {
		step = "done"
	}
	head := p.counterLocked(0)
	if err == nil {
		p.built++
		if p.live {
			return
		}
		line := p.counterLocked(p.doneLocked()) + " " + t.name() + " " + step + " " + formatDuration(now.Sub(t.stepStarted))
		if t.steps > 1 {
			line += " (" + formatDuration(now.Sub(t.started)) + " in all)"
		}
		p.emitLocked(line)
		return
	}
	p.failures = append(p.failures, failure{app: t.app, platform: t.platform, step: t.step, err: err})
	msg := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	lines := []string{p.counterLocked(p.doneLocked()) + " " + t.name() + " " + strings.TrimSpace(t.step+" failed") +
		" after " + formatDuration(now.Sub(t.stepStarted)) + ": " + msg[0]}
	indent := strings.Repeat(" ", len(head)+5) // deeper than the step lines
	for _, l := range msg[1:] {
		lines = append(lines, indent+l)
	}
	p.emitLocked(lines...)
}

// finishLocked marks t finished and takes it off the running list; it reports false when
// t was already finished or the Progress is closed.
func (t *Task) finishLocked() bool {
	p := t.p
	if t.finished || p.closed {
		return false
	}
	t.finished = true
	if i := slices.Index(p.running, t); i >= 0 {
		p.running = slices.Delete(p.running, i, i+1)
	}
	return true
}

// name is the task's app and platform, the empty ones left out.
func (t *Task) name() string {
	switch {
	case t.app == "":
		return t.platform
	case t.platform == "":
		return t.app
	}
	return t.app + " " + t.platform
}

func (p *Progress) doneLocked() int { return p.built + p.cached + len(p.failures) }

// counterLocked formats done as "[ 3/12]", or "[3]" while the total is unknown.
func (p *Progress) counterLocked(done int) string {
	total := max(p.total, p.doneLocked())
	if p.total == 0 {
		return "[" + strconv.Itoa(done) + "]"
	}
	return fmt.Sprintf("[%*d/%d]", len(strconv.Itoa(total)), done, total)
}

// Log prints a message line, such as a warning, above the live view. A message of several
// lines prints them all; a trailing newline is dropped.
func (p *Progress) Log(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emitLocked(strings.Split(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"), "\n")...)
}

// Write prints every complete line of b as Log does, and keeps an unfinished last line
// until a later Write or Close ends it, so that a Progress can stand in for the io.Writer of
// anything that logs (verbose command lines, toolchain downloads). It never fails.
func (p *Progress) Write(b []byte) (int, error) {
	if p == nil {
		return len(b), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	i := strings.LastIndexByte(string(p.partial), '\n')
	if i < 0 {
		return len(b), nil
	}
	lines := strings.Split(string(p.partial[:i]), "\n")
	for j, l := range lines {
		lines[j] = strings.TrimSuffix(l, "\r")
	}
	p.partial = append(p.partial[:0], p.partial[i+1:]...)
	p.emitLocked(lines...)
	return len(b), nil
}

// Close stops the live view and prints the summary: a line per failure, then how many
// tasks were built, cached and failed, and the time since New. On a terminal the summary
// takes the live view's place, so nothing of it is left behind. Tasks still running are
// counted as unfinished; anything they report later is ignored. Close is idempotent.
func (p *Progress) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	if len(p.partial) > 0 {
		lines = append(lines, string(p.partial))
		p.partial = nil
	}
	for _, f := range p.failures {
		name := (&Task{app: f.app, platform: f.platform}).name()
		msg, _, _ := strings.Cut(f.err.Error(), "\n")
		lines = append(lines, "FAIL "+strings.TrimSpace(name+" "+f.step)+": "+msg)
	}
	summary := fmt.Sprintf("%d built, %d cached, %d failed", p.built, p.cached, len(p.failures))
	if n := len(p.running); n > 0 {
		summary += fmt.Sprintf(", %d unfinished", n)
	}
	lines = append(lines, summary+" in "+formatDuration(p.now().Sub(p.start)))
	if p.live {
		p.drawLocked(lines, nil)
		p.live = false // what is logged after Close is printed plainly
		return
	}
	p.emitLocked(lines...)
}

// redraw draws the live view, unless it is off, closed or would not change.
func (p *Progress) redraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live || p.closed {
		return
	}
	rows := p.frameLocked()
	if slices.Equal(rows, p.shown) {
		return
	}
	p.drawLocked(nil, rows)
}

// emitLocked prints lines: above the live view, which it redraws, or plainly.
func (p *Progress) emitLocked(lines ...string) {
	if p.live && !p.closed {
		p.drawLocked(lines, p.frameLocked())
		return
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	io.WriteString(p.w, b.String())
}

// drawLocked replaces the live view on screen with lines, which stay, followed by rows,
// the new live view, in one write. The cursor is left at the start of the line below.
func (p *Progress) drawLocked(lines, rows []string) {
	var b strings.Builder
	if n := len(p.shown); n > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", n) // to the view's first row
	}
	if len(lines) > 0 {
		// A message may wrap or hold tabs, which skip over old text without erasing it,
		// so the old view goes first.
		b.WriteString("\x1b[J")
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for _, r := range rows {
		// A row is one line of plain text: overwriting the old row and erasing what is
		// left of it does not flicker the way erasing first would.
		b.WriteString(r)
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J") // erase old rows below a shorter view
	io.WriteString(p.w, b.String())
	p.shown = rows
}

// frameLocked renders the live view: a header and a row per running task, oldest first,
// at most height-1 rows (the cursor needs the last one) of at most width-1 columns (a
// full row would wrap on some terminals); when the tasks do not fit, the last row says
// how many more there are.
func (p *Progress) frameLocked() []string {
	avail := p.height - 1
	if avail < 1 {
		return nil
	}
	now := p.now()
	header := p.counterLocked(p.doneLocked()) + fmt.Sprintf(" %d built, %d cached", p.built, p.cached)
	if n := len(p.failures); n > 0 {
		header += fmt.Sprintf(", %d failed", n)
	}
	header += fmt.Sprintf(", %d running  %s", len(p.running), formatDuration(now.Sub(p.start)))
	rows := []string{header}

	shown, more := p.running, 0
	if slots := avail - 1; len(shown) > slots {
		n := max(slots-1, 0)
		shown, more = shown[:n], len(shown)-n
		if slots == 0 {
			more = 0 // not even room to say so
		}
	}
	var appW, platW, stepW int
	for _, t := range shown {
		appW = max(appW, utf8.RuneCountInString(t.app))
		platW = max(platW, utf8.RuneCountInString(t.platform))
		stepW = max(stepW, utf8.RuneCountInString(t.step))
	}
	for _, t := range shown {
		rows = append(rows, fmt.Sprintf("  %-*s  %-*s  %-*s  %6s",
			appW, t.app, platW, t.platform, stepW, t.step, formatDuration(now.Sub(t.stepStarted))))
	}
	if more > 0 {
		rows = append(rows, fmt.Sprintf("  ... and %d more", more))
	}
	for i, r := range rows {
		rows[i] = fit(r, p.width-1)
	}
	return rows
}

// fit makes s one row of at most n columns: control characters become spaces, trailing
// spaces go, and a longer row is cut.
func fit(s string, n int) string {
	var b strings.Builder
	cols := 0
	for _, r := range s {
		if cols == n {
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		cols++
	}
	return strings.TrimRight(b.String(), " ")
}

// formatDuration prints d to the tenth of a second under a minute ("1.2s"), then in
// minutes and seconds ("3m07s"), then in hours and minutes ("1h05m").
func formatDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		d = d.Truncate(100 * time.Millisecond)
		return fmt.Sprintf("%d.%ds", d/time.Second, d%time.Second/(100*time.Millisecond))
	case d < time.Hour:
		d = d.Truncate(time.Second)
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	d = d.Truncate(time.Minute)
	return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
}
