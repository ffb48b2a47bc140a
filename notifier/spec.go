package notifier

import (
	"io"
	"net/http"
	"time"
)

// Spec is one channel type as its package describes it to the registry
// (notifier/build): its name, its own settings, their documentation, its
// defaults, its validation and its constructor. S is the channel's settings
// struct: its mapstructure keys are the keys the channel takes in the
// config file besides the common ones (type, max_attempts, template,
// digest, rate_limit, timeout).
type Spec[S any] struct {
	// Type is the notifier type in the config file ("slack").
	Type string
	// Keys documents each key of S, by its mapstructure name, for the
	// config reference (docs/config.md).
	Keys map[string]KeyDoc
	// InFlight is how many sends the engine runs at once.
	InFlight int
	// RateLimit is the most messages per second when the config sets no
	// rate_limit; 0 is unlimited.
	RateLimit float64
	// Timeout is the time limit of one send when the config sets none; 0
	// means the channel takes no timeout (setting one is an error).
	Timeout time.Duration
	// Defaults fills settings the file left out; nil: none.
	Defaults func(*S)
	// Check validates settings without connecting anywhere, each problem
	// with its key; it never quotes a secret.
	Check func(S, Common) []FieldError
	// New builds the channel from settings Check accepted.
	New func(S, Common, Env) (Notifier, error)
}

// KeyDoc documents one key of a channel's settings.
type KeyDoc struct {
	Doc string
	// Default is the default in words, when it is not the zero value.
	Default string
	// Secret keys never appear in messages, logs or status.
	Secret bool
}

// Common are the settings every channel takes.
type Common struct {
	// Template, when not "", renders the message (each channel says how).
	Template string
	// Timeout bounds one send; 0 is the channel's default.
	Timeout time.Duration
}

// Env is what the process hands the channels it builds.
type Env struct {
	// Out is where the console writes (os.Stdout in production).
	Out io.Writer
	// Client is shared by HTTP channels; nil: each makes its own.
	Client *http.Client
	// Name is the notifier's name in the config file (Matrix scopes its
	// transaction ids by it).
	Name string
}

// FieldError is a problem with one key of a notifier's settings. Key is
// relative to the notifier ("to[1]", "template"), so config validation
// reports it at its key path and file line without parsing the message.
type FieldError struct {
	Key string
	Msg string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Msg }

// Field is a FieldError for key when err is not nil.
func Field(key string, err error) []FieldError {
	if err == nil {
		return nil
	}
	return []FieldError{{Key: key, Msg: err.Error()}}
}
