// Package strftime formats times by C strftime(3) conversions, with the
// two log4cplus adds: %q (milliseconds) and %Q (milliseconds.microseconds),
// as Kea's forensic log's timestamp-format and its loggers' patterns take
// them.
package strftime

import (
	"strconv"
	"time"
)

// Append appends t formatted by the C strftime(3) conversions, plus %q
// (milliseconds, 3 digits) and %Q (milliseconds.microseconds, e.g.
// 123.456). An unknown conversion is copied as is.
func Append(dst []byte, format string, t time.Time) []byte {
	pad := func(dst []byte, v, width int) []byte {
		s := strconv.Itoa(v)
		for i := len(s); i < width; i++ {
			dst = append(dst, '0')
		}
		return append(dst, s...)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			dst = append(dst, c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			dst = pad(dst, t.Year(), 4)
		case 'y':
			dst = pad(dst, t.Year()%100, 2)
		case 'C':
			dst = pad(dst, t.Year()/100, 2)
		case 'm':
			dst = pad(dst, int(t.Month()), 2)
		case 'd':
			dst = pad(dst, t.Day(), 2)
		case 'e':
			if t.Day() < 10 {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, int64(t.Day()), 10)
		case 'H':
			dst = pad(dst, t.Hour(), 2)
		case 'I':
			dst = pad(dst, (t.Hour()+11)%12+1, 2)
		case 'M':
			dst = pad(dst, t.Minute(), 2)
		case 'S':
			dst = pad(dst, t.Second(), 2)
		case 'p':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'j':
			dst = pad(dst, t.YearDay(), 3)
		case 'Z':
			name, _ := t.Zone()
			dst = append(dst, name...)
		case 'z':
			dst = t.AppendFormat(dst, "-0700")
		case 'a':
			dst = append(dst, t.Weekday().String()[:3]...)
		case 'A':
			dst = append(dst, t.Weekday().String()...)
		case 'b', 'h':
			dst = append(dst, t.Month().String()[:3]...)
		case 'B':
			dst = append(dst, t.Month().String()...)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = strconv.AppendInt(dst, int64(wd), 10)
		case 'w':
			dst = strconv.AppendInt(dst, int64(t.Weekday()), 10)
		case 's':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case 'F':
			dst = Append(dst, "%Y-%m-%d", t)
		case 'T':
			dst = Append(dst, "%H:%M:%S", t)
		case 'D':
			dst = Append(dst, "%m/%d/%y", t)
		case 'R':
			dst = Append(dst, "%H:%M", t)
		case 'c':
			dst = Append(dst, "%a %b %e %H:%M:%S %Y", t)
		case 'q':
			dst = pad(dst, t.Nanosecond()/1e6, 3)
		case 'Q':
			us := t.Nanosecond() / 1000
			dst = pad(dst, us/1000, 3)
			dst = append(dst, '.')
			dst = pad(dst, us%1000, 3)
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case '%':
			dst = append(dst, '%')
		default:
			dst = append(dst, '%', format[i])
		}
	}
	return dst
}
