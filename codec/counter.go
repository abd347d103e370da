package codec

import (
	"fmt"
	"reflect"
	"strconv"
)

// maxDecimalLen is the length of the longest int64 in decimal: "-9223372036854775808".
const maxDecimalLen = 20

// isDecimal reports whether data is the decimal text of an integer, as Redis INCR and the disk
// backend's Incr store it: an optional minus sign and one or more digits.
func isDecimal(data []byte) bool {
	if len(data) > maxDecimalLen {
		return false
	}
	digits := data
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// decodeCounter stores the counter text data into v: an integer kind (range-checked), a string kind
// (the text itself) or an empty interface (an int64).
func decodeCounter(data []byte, v any) error {
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: counter %q is out of the int64 range", ErrFormat, data)
	}
	switch p := v.(type) {
	case *int64:
		*p = n
		return nil
	case *any:
		*p = n
		return nil
	case *string:
		*p = string(data)
		return nil
	}
	e := reflect.ValueOf(v).Elem() // Decode checked that v is a non-nil pointer
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if e.OverflowInt(n) {
			return fmt.Errorf("%w: counter %d does not fit in %s", ErrFormat, n, e.Type())
		}
		e.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n < 0 || e.OverflowUint(uint64(n)) {
			return fmt.Errorf("%w: counter %d does not fit in %s", ErrFormat, n, e.Type())
		}
		e.SetUint(uint64(n))
		return nil
	case reflect.String:
		e.SetString(string(data))
		return nil
	case reflect.Interface:
		if e.NumMethod() == 0 {
			e.Set(reflect.ValueOf(n))
			return nil
		}
	}
	return fmt.Errorf("%w: the stored value is the counter %d, which cannot be decoded into %T (want an integer type, *string or *any)",
		ErrFormat, n, v)
}
