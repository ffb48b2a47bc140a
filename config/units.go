package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way ParseDuration reads it, using days for whole days.
func (d Duration) String() string {
	td := time.Duration(d)
	const day = 24 * time.Hour
	if td >= day && td%day == 0 {
		return strconv.FormatInt(int64(td/day), 10) + "d"
	}
	if td > day {
		return strconv.FormatInt(int64(td/day), 10) + "d" + (td % day).String()
	}
	return td.String()
}

// MarshalText writes d as ParseDuration reads it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads Go duration syntax ("90s", "1h30m", "-5m") plus "d" for
// 24-hour days ("90d", "1d12h", "1.5d"). The bare number "0" is zero; other
// bare numbers are rejected because their unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration")
	}
	if !strings.Contains(in, "d") {
		d, err := time.ParseDuration(in)
		if err != nil {
			return 0, durationError(in)
		}
		return Duration(d), nil
	}
	// Rewrite each "<number>d" segment as hours, exactly, and let
	// time.ParseDuration do the rest (signs, other units, overflow).
	var out strings.Builder
	rest := in
	if rest[0] == '+' || rest[0] == '-' {
		out.WriteByte(rest[0])
		rest = rest[1:]
	}
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, durationError(in)
		}
		num := rest[:i]
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		if unit != "d" {
			out.WriteString(num)
			out.WriteString(unit)
			continue
		}
		if strings.Count(num, ".") > 1 || num == "." || len(num) > 40 {
			return 0, durationError(in)
		}
		r, ok := new(big.Rat).SetString(num)
		if !ok {
			return 0, durationError(in)
		}
		r.Mul(r, big.NewRat(24, 1))
		out.WriteString(r.FloatString(12))
		out.WriteString("h")
	}
	d, err := time.ParseDuration(out.String())
	if err != nil {
		return 0, durationError(in)
	}
	return Duration(d), nil
}

func durationError(s string) error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return fmt.Errorf("bad duration %q: missing unit (s, m, h or d)", s)
	}
	return fmt.Errorf("bad duration %q: want a number and unit like 90s, 5m, 2h or 7d", s)
}

// Bytes returns s as an int64 byte count.
func (s Size) Bytes() int64 { return int64(s) }

// String formats s with the largest unit that divides it evenly.
func (s Size) String() string {
	n := int64(s)
	for _, u := range sizeUnits {
		if u.mult > 1 && n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText writes s as ParseSize reads it.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads s with ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// sizeUnits are 1024-based, as in most daemons' config files: "10MB" is
// 10 MiB. The IEC spellings (KiB, MiB) are accepted as the same thing so
// nobody has to remember which one we meant.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1},
}

// ParseSize reads a byte count: a bare number of bytes ("512") or a number
// with a unit: B, KB, MB, GB, TB (1024-based; KiB, MiB, GiB, TiB and K, M,
// G, T mean the same). Case and a space before the unit do not matter;
// fractions ("1.5MB") round down to whole bytes.
func ParseSize(s string) (Size, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.ToUpper(strings.TrimSpace(in[i:]))
	if num == "" || strings.Count(num, ".") > 1 || num == "." || len(num) > 40 {
		return 0, sizeError(in)
	}
	unit = strings.TrimSuffix(strings.Replace(unit, "IB", "B", 1), "B")
	mult := int64(1)
	switch unit {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, sizeError(in)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, sizeError(in)
	}
	r.Mul(r, big.NewRat(mult, 1))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("bad size %q: too large", clip(in))
	}
	return Size(n.Int64()), nil
}

func sizeError(s string) error {
	return fmt.Errorf("bad size %q: want bytes or a number with KB, MB or GB", clip(s))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// DecodeHook is a mapstructure decode hook (pass it to viper.DecodeHook) that
// turns strings into Duration and Size, and bare numbers into Size (bytes)
// or Duration (only 0).
func DecodeHook(from, to reflect.Type, data any) (any, error) {
	switch to {
	case durationType:
		switch v := data.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				return Duration(0), nil
			}
			return ParseDuration(v)
		case Duration:
			return v, nil
		case time.Duration:
			return Duration(v), nil
		}
		if n, ok := wholeNumber(data); ok && n == 0 {
			return Duration(0), nil
		}
		if _, ok := wholeNumber(data); ok {
			return nil, fmt.Errorf("bad duration %v: missing unit (s, m, h or d)", data)
		}
	case sizeType:
		switch v := data.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				return Size(0), nil
			}
			return ParseSize(v)
		case Size:
			return v, nil
		}
		if n, ok := wholeNumber(data); ok {
			if n < 0 {
				return nil, errors.New("bad size: negative")
			}
			return Size(n), nil
		}
	}
	return data, nil
}

// wholeNumber reports data as an int64 when it is an integer of any Go
// numeric type (TOML gives int64, JSON float64, YAML int).
func wholeNumber(data any) (int64, bool) {
	switch v := data.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint:
		if uint64(v) > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float32:
		return wholeNumber(float64(v))
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) || math.IsNaN(v) || v > math.MaxInt64 || v < math.MinInt64 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}
