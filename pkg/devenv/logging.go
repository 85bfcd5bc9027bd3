package devenv

import "github.com/go-logr/logr"

// withoutDeliberateStopError drops the one error controller-runtime logs
// when a manager that leads is stopped on purpose (StopKeyless, Ctrl-C in
// keyless-dev): it releases the lease, so that the next start leads at
// once, and then reports the leadership as lost.
func withoutDeliberateStopError(l logr.Logger) logr.Logger {
	sink := l.GetSink()
	if sink == nil {
		return l
	}
	if s, ok := sink.(logr.CallDepthLogSink); ok {
		sink = s.WithCallDepth(1) // the filter's own frame
	}
	return logr.New(stopFilter{sink})
}

type stopFilter struct{ logr.LogSink }

func (f stopFilter) Error(err error, msg string, kv ...any) {
	if msg == "error received after stop sequence was engaged" && err != nil && err.Error() == "leader election lost" {
		return
	}
	f.LogSink.Error(err, msg, kv...)
}

func (f stopFilter) WithValues(kv ...any) logr.LogSink {
	return stopFilter{f.LogSink.WithValues(kv...)}
}
func (f stopFilter) WithName(name string) logr.LogSink { return stopFilter{f.LogSink.WithName(name)} }

func (f stopFilter) WithCallDepth(depth int) logr.LogSink {
	if s, ok := f.LogSink.(logr.CallDepthLogSink); ok {
		return stopFilter{s.WithCallDepth(depth)}
	}
	return f
}
