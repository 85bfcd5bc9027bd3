package app

import (
	"io"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/keyless-dev/keyless/pkg/config"
)

// NewLogger returns a structured logger: JSON by default, or text for people.
func NewLogger(c config.Config, w io.Writer) logr.Logger {
	v, _ := config.Verbosity(c.LogLevel)
	return zap.New(
		zap.WriteTo(w),
		zap.UseDevMode(false),
		zap.Level(zapcore.Level(-v)),
		func(o *zap.Options) {
			if c.LogFormat == "text" {
				o.Encoder = zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
					TimeKey: "ts", LevelKey: "level", NameKey: "logger", MessageKey: "msg",
					EncodeTime: zapcore.ISO8601TimeEncoder, EncodeLevel: zapcore.CapitalLevelEncoder,
					EncodeDuration: zapcore.StringDurationEncoder, ConsoleSeparator: " ",
				})
			}
		},
	)
}
