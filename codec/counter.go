package codec

import (
	"fmt"
	"reflect"
	"strconv"
)

// maxDecimalLen is the length of the longest integer in decimal: "-9223372036854775808", and
// "18446744073709551615" for a uint64.
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

func isIntegerKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// appendInteger appends the decimal text of v to dst if v is an integer of any Go integer type,
// named types included.
func appendInteger(dst []byte, v any) ([]byte, bool) {
	switch n := v.(type) {
	case int:
		return strconv.AppendInt(dst, int64(n), 10), true
	case int64:
		return strconv.AppendInt(dst, n, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(n), 10), true
	case uint64:
		return strconv.AppendUint(dst, n, 10), true
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return strconv.AppendInt(dst, rv.Int(), 10), true
	case rv.CanUint():
		return strconv.AppendUint(dst, rv.Uint(), 10), true
	}
	return dst, false
}

// decodeInteger stores the integer whose decimal text is data into the target v points to: an
// integer type that holds it, or an empty interface (an int64, or a uint64 beyond the int64 range).
// Any other target is an error wrapping ErrWrongType, as on the memory backend.
func decodeInteger(data []byte, v any) error {
	n, err := strconv.ParseInt(string(data), 10, 64)
	var u uint64
	unsigned := false
	if err != nil {
		if u, err = strconv.ParseUint(string(data), 10, 64); err != nil {
			return fmt.Errorf("%w: the integer %q is out of range", ErrFormat, short(data))
		}
		unsigned = true
	}
	switch p := v.(type) {
	case *int64:
		if !unsigned {
			*p = n
			return nil
		}
	case *any:
		if unsigned {
			*p = u
		} else {
			*p = n
		}
		return nil
	}
	e := reflect.ValueOf(v).Elem() // the callers checked that v is a non-nil pointer
	switch {
	case e.CanInt():
		if !unsigned && !e.OverflowInt(n) {
			e.SetInt(n)
			return nil
		}
	case e.CanUint():
		if !unsigned && n >= 0 {
			u = uint64(n)
		}
		if (unsigned || n >= 0) && !e.OverflowUint(u) {
			e.SetUint(u)
			return nil
		}
	case e.Kind() == reflect.Interface && e.NumMethod() == 0:
		if unsigned {
			e.Set(reflect.ValueOf(u))
		} else {
			e.Set(reflect.ValueOf(n))
		}
		return nil
	default:
		return fmt.Errorf("%w: the value is an integer (%s), not %v", ErrWrongType, short(data), e.Type())
	}
	return fmt.Errorf("%w: the integer %s does not fit in %v", ErrWrongType, short(data), e.Type())
}
