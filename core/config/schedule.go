package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is when frm daemon runs a periodic job ([[mirror]] schedule,
// [sites] schedule): every Every, or daily at Hour:Minute local time.
type Schedule struct {
	Every        time.Duration
	Hour, Minute int
	Daily        bool
}

// MinScheduleInterval is the shortest interval of a schedule.
const MinScheduleInterval = time.Minute

// ParseSchedule reads "1h" (an interval of at least a minute) or "03:30"
// (daily, local time).
func ParseSchedule(s string) (Schedule, error) {
	if h, m, ok := strings.Cut(s, ":"); ok {
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return Schedule{}, fmt.Errorf("schedule %q: a daily time is HH:MM (00:00 to 23:59)", s)
		}
		return Schedule{Daily: true, Hour: hh, Minute: mm}, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: an interval (1h, 15m) or a daily time (03:30)", s)
	}
	if d < MinScheduleInterval {
		return Schedule{}, fmt.Errorf("schedule %q: at least %s", s, Duration(MinScheduleInterval))
	}
	return Schedule{Every: d}, nil
}

// Next is the first run after now.
func (s Schedule) Next(now time.Time) time.Time {
	if !s.Daily {
		return now.Add(s.Every)
	}
	t := time.Date(now.Year(), now.Month(), now.Day(), s.Hour, s.Minute, 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(now.Year(), now.Month(), now.Day()+1, s.Hour, s.Minute, 0, 0, now.Location())
	}
	return t
}
