package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// How busy the machine is, from Linux's /proc: the CPU time every process used (/proc/stat, steal
// time included: on a virtual machine that is CPU the hypervisor gave to someone else), minus the
// CPU time of the processes the report runs (the benchmark binary, redis-server), is what the rest
// of the machine took while a benchmark ran. Unlike the load average (a one-minute moving average
// that also counts the benchmark itself) it says what happened during that benchmark.

// userHZ is the unit of /proc/stat and /proc/PID/stat times (USER_HZ, 100 on every Linux port).
const userHZ = 100

// cpuTimes is a reading of the first line of /proc/stat.
type cpuTimes struct {
	busy time.Duration // user, nice, system, irq, softirq and steal of all CPUs
	ok   bool
}

func readCPUTimes() cpuTimes {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cpuTimes{}
		}
		busy += n
	}
	return cpuTimes{busy: time.Duration(busy) * time.Second / userHZ, ok: true}
}

// procCPU returns the CPU time (user and system) process pid has used, or 0 when it cannot be read.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // utime and stime are fields 14 and 15, that is f[11] and f[12]
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+st) * time.Second / userHZ
}

// foreignShare is the share of the machine (0 to 1: all cores busy) that processes other than
// ours used between two readings taken wall apart, ours being the given CPU time; -1 when /proc
// cannot tell.
func foreignShare(before, after cpuTimes, ours, wall time.Duration, cores int) float64 {
	if !before.ok || !after.ok || wall <= 0 || cores <= 0 {
		return -1
	}
	other := after.busy - before.busy - ours
	share := float64(other) / (float64(wall) * float64(cores))
	return min(max(share, 0), 1)
}

// probeForeign measures the share of the machine other processes use over d while the report
// itself runs nothing (redis-server, when given, idles but is counted as ours).
func probeForeign(d time.Duration, cores, redisPID int) float64 {
	before, r0, t0 := readCPUTimes(), procCPU(redisPID), time.Now()
	time.Sleep(d)
	after, r1 := readCPUTimes(), procCPU(redisPID)
	return foreignShare(before, after, r1-r0, time.Since(t0), cores)
}

// waitQuiet waits until other processes use at most maxShare of the machine (probed a second at a
// time), for at most maxWait. It returns the last share measured and whether it was quiet.
func waitQuiet(maxShare float64, maxWait time.Duration, cores, redisPID int) (float64, bool) {
	deadline := time.Now().Add(maxWait)
	for {
		share := probeForeign(time.Second, cores, redisPID)
		if share < 0 || share <= maxShare {
			return share, true
		}
		if time.Now().After(deadline) {
			return share, false
		}
		time.Sleep(3 * time.Second) // let the burst pass before probing again
	}
}
