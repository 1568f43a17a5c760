// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio_lat_test - selftests of kvmio_lat.ko in a real kernel with real KVM.
 *
 * Runs as root inside the lab guest (selftests/lab/lab.sh); loads and unloads
 * kvmio_lat.ko, kvm and kvm_amd itself, and drives vCPUs with kvmio-vmm.
 *
 *   kvmio_lat_test --module PATH.ko --vmm PATH [--vcpus N] [--exits M]
 *                  [--no-hold-keys]
 *
 * TAP output through kselftest.h; exit status 0 when every test passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest.h"
#include "vmm.h"

#define DBG_DIR	"/sys/kernel/debug/kvmio_lat"

static const char *module_path;
static const char *vmm_path;
static int nr_vcpus = 4;
static int nr_exits = 2000;
static bool hold_keys = true;

/* ---- helpers ---- */

static int load_module(const char *params)
{
	int fd = open(module_path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, "kvmio_lat", O_NONBLOCK) ? -errno : 0;
}

static bool module_loaded(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	bool found = false;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, n) && line[n] == ' ';
	fclose(f);
	return found;
}

static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* Whole file into a malloc()ed string, NULL on error. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* Write @s to @path; 0 or -errno of the write. */
static int write_file(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, s, len) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Keep the core-kernel tracepoints kvmio_lat uses at two probes each with
 * ftrace events that record nothing (tracing_on 0), in the top-level trace
 * array and in an instance of our own: the module's many loads and unloads
 * then move each from two probes to three and back, which patches no text
 * (zero to one switches the static key, one to two the static call).
 * QEMU's multi-threaded TCG, which the lab runs on, can execute a stale
 * int3 of such a patch on another vCPU (an "Oops: int3" or a soft lockup,
 * reproduced by toggling raw_syscalls in tracefs without kvmio_lat;
 * Documentation/lab.rst).  kvm's own tracepoints need no
 * hold: these tests attach and detach while no vCPU runs.  --no-hold-keys
 * tests the patching too.
 */
#define HOLD_INSTANCE	"instances/kvmio_lat_hold"
#define HOLD_KPROBES	"kvmio_lat_hold"

/*
 * kvmio_lat's kretprobes (module/syshooks.c) patch their functions'
 * ftrace sites when they come and go, unless a kprobe is already there:
 * a kprobe event on each, enabled, makes them aggregates that patch
 * nothing (selftests/lib/labhold.py holds the same).  kvm_ioeventfd()'s
 * needs none: nothing runs it while it is patched.
 */
static const char * const hooked[] = {
	"__x64_sys_read", "__x64_sys_write", "__x64_sys_poll",
	"__x64_sys_select", "__x64_sys_pselect6", "__x64_sys_ppoll",
	"__x64_sys_epoll_wait", "__x64_sys_epoll_pwait",
	"__x64_sys_epoll_pwait2", "__x64_sys_io_uring_enter",
	"__x64_sys_io_submit", "__x64_sys_io_getevents",
	"__x64_sys_io_pgetevents", "__x64_sys_pread64", "__x64_sys_pwrite64",
	"__x64_sys_preadv", "__x64_sys_pwritev", "__x64_sys_preadv2",
	"__x64_sys_pwritev2", "__x64_sys_fsync", "__x64_sys_fdatasync",
};

static void append_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		errno = 0;	/* a function this kernel lacks: not held */
	close(fd);
}

/* define (or, !@on, remove) the kprobe events of hooked[] */
static void hold_kprobe_defs(const char *tracing, bool on)
{
	char path[160], line[160];
	size_t i;

	snprintf(path, sizeof(path), "%s/kprobe_events", tracing);
	for (i = 0; i < sizeof(hooked) / sizeof(hooked[0]); i++) {
		if (on)
			snprintf(line, sizeof(line), "p:" HOLD_KPROBES "/%s %s\n",
				 hooked[i], hooked[i]);
		else
			snprintf(line, sizeof(line), "-:" HOLD_KPROBES "/%s\n",
				 hooked[i]);
		append_file(path, line);
	}
}

static void hold_core_keys(bool on)
{
	static const char * const events[] = {
		"raw_syscalls/sys_enter", "raw_syscalls/sys_exit",
		"sched/sched_process_exit",
	};
	static const char * const arrays[] = { "", HOLD_INSTANCE "/" };
	const char *tracing = "/sys/kernel/tracing";
	char path[160];
	size_t i, a;

	if (!hold_keys)
		return;
	snprintf(path, sizeof(path), "%s/tracing_on", tracing);
	if (access(path, W_OK) && mount("nodev", tracing, "tracefs", 0, NULL))
		return;
	snprintf(path, sizeof(path), "%s/" HOLD_INSTANCE, tracing);
	if (on && mkdir(path, 0700) && errno != EEXIST)
		return;
	if (on)
		hold_kprobe_defs(tracing, true);
	for (a = 0; a < 2; a++) {
		snprintf(path, sizeof(path), "%s/%stracing_on", tracing, arrays[a]);
		if (on && write_file(path, "0", 1))
			return;
		for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
			snprintf(path, sizeof(path), "%s/%sevents/%s/enable", tracing,
				 arrays[a], events[i]);
			write_file(path, on ? "1" : "0", 1);
		}
		for (i = 0; i < sizeof(hooked) / sizeof(hooked[0]); i++) {
			snprintf(path, sizeof(path), "%s/%sevents/" HOLD_KPROBES "/%s/enable",
				 tracing, arrays[a], hooked[i]);
			if (!access(path, W_OK))
				write_file(path, on ? "1" : "0", 1);
		}
	}
	if (!on) {
		hold_kprobe_defs(tracing, false);
		snprintf(path, sizeof(path), "%s/" HOLD_INSTANCE, tracing);
		rmdir(path);
	}
	ksft_print_msg("core tracepoints and system-call functions %s (tracefs events in 2 arrays, tracing_on 0)\n",
		       on ? "held at 2 probes" : "released");
}

static long stat_value(const char *key)
{
	char *s = slurp(DBG_DIR "/stats"), *p;
	char pat[64];
	long v = -1;

	if (!s)
		return -1;
	snprintf(pat, sizeof(pat), "\n%s: ", key);
	p = strstr(s, pat);
	if (!p && !strncmp(s, pat + 1, strlen(pat + 1)))
		p = s - 1;
	if (p)
		v = strtol(p + strlen(pat), NULL, 10);
	free(s);
	return v;
}

/* Lines of the form "vcpu <pid> <id> isa <isa> exits <n>". */
static long vcpu_exits(const char *hist, int pid, int vcpu)
{
	char pat[64];
	const char *p;
	char isa[16];
	long n;

	snprintf(pat, sizeof(pat), "\nvcpu %d %d isa ", pid, vcpu);
	p = strstr(hist, pat);
	if (!p || sscanf(p + strlen(pat), "%15s exits %ld", isa, &n) != 2)
		return -1;
	return n;
}

/* "exit <pid> <vcpu> <reason> count=<n>" */
static long exit_reason_count(const char *hist, int pid, int vcpu,
			      const char *reason)
{
	char pat[96];
	const char *p;
	long n;

	snprintf(pat, sizeof(pat), "\nexit %d %d %s count=", pid, vcpu, reason);
	p = strstr(hist, pat);
	if (!p || sscanf(p + strlen(pat), "%ld", &n) != 1)
		return -1;
	return n;
}

/* the p50 of vCPU 0's io exits in the last vmm_exits_counted() run */
static long last_io_p50 = -1;
/* syscall_hooks_filtered while the last exit loop's VM existed */
static long last_hooks_filtered = -1;

/* "exit <pid> <vcpu> io count=<n> ... p50=<ns> ..." */
static long exit_reason_p50(const char *hist, int pid, int vcpu,
			    const char *reason)
{
	char pat[96];
	const char *p, *eol;
	long n;

	snprintf(pat, sizeof(pat), "\nexit %d %d %s count=", pid, vcpu, reason);
	p = strstr(hist, pat);
	if (!p)
		return -1;
	eol = strchr(p + 1, '\n');
	p = strstr(p, " p50=");
	if (!p || (eol && p > eol) || sscanf(p + 5, "%ld", &n) != 1)
		return -1;
	return n;
}

/*
 * Run kvmio-vmm exits and check the module counted at least @nr_exits
 * kvm_exit events, io exits among them, for each vCPU of that process.
 * The hist is read while the VMM, stopped before exiting, is still a VM.
 */
static bool vmm_exits_counted_once(const char *what, bool *lab_fault)
{
	char vcpus[16], count[16], *hist = NULL;
	long userspace = -1;
	bool ok = true;
	pid_t pid;
	int st, v;

	snprintf(vcpus, sizeof(vcpus), "%d", nr_vcpus);
	snprintf(count, sizeof(count), "%d", nr_exits);
	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		/* its report would break our TAP; errors still go to stderr */
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execl(vmm_path, vmm_path, "exits", "--vcpus", vcpus, "--count",
		      count, "--stop-when-done", NULL);
		_exit(127);
	}
	/* the VMM stops itself when its vCPUs are done, while still a VM */
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
		ksft_print_msg("%s: kvmio-vmm did not stop after its exits (status %#x)\n",
			       what, st);
		ok = false;
	} else {
		hist = slurp(DBG_DIR "/hist");
		/* before the system-call probes attach: not queued */
		userspace = stat_value("doorbells_userspace") +
			    stat_value("doorbells_unwatched");
		last_hooks_filtered = stat_value("syscall_hooks_filtered");
		kill(pid, SIGCONT);
		waitpid(pid, &st, 0);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		ksft_print_msg("%s: kvmio-vmm failed (status %#x)\n", what, st);
		*lab_fault = WIFEXITED(st) &&
			     (WEXITSTATUS(st) == VMM_EXIT_GUEST_FAULT ||
			      WEXITSTATUS(st) == VMM_EXIT_STALLED);
		ok = false;
	}
	if (!hist) {
		ksft_print_msg("%s: cannot read %s/hist\n", what, DBG_DIR);
		return false;
	}
	last_io_p50 = exit_reason_p50(hist, pid, 0, "io");
	for (v = 0; ok && v < nr_vcpus; v++) {
		long n = vcpu_exits(hist, pid, v);
		long io = exit_reason_count(hist, pid, v, "io");

		if (n < nr_exits || io < nr_exits) {
			ksft_print_msg("%s: vcpu %d: %ld exits, %ld io exits counted, want >= %d\n",
				       what, v, n, io, nr_exits);
			ok = false;
		}
	}
	/*
	 * Each exit's port write went back to the VMM (kvm_userspace_exit),
	 * or came before the system-call probes were attached.
	 */
	if (ok && userspace < (long)nr_vcpus * nr_exits) {
		ksft_print_msg("%s: doorbells_userspace + doorbells_unwatched %ld, want >= %d\n",
			       what, userspace, nr_vcpus * nr_exits);
		ok = false;
	}
	free(hist);
	return ok;
}

/*
 * A fault inside the test guest, or a vCPU that sat in KVM_RUN past the
 * deadline while its thread still answered the kick, is not something
 * kvmio_lat can cause (its probes only read and never wait); the lab's
 * emulated nested SVM rarely produces either (vmm.h, VMM_EXIT_GUEST_FAULT
 * and VMM_EXIT_STALLED).  Run once more then, and say so; any other
 * failure, or the same one twice, counts.
 */
static bool vmm_exits_counted(const char *what)
{
	bool lab_fault = false;

	if (vmm_exits_counted_once(what, &lab_fault))
		return true;
	if (!lab_fault)
		return false;
	ksft_print_msg("%s: the test guest faulted or stalled, not the module: running it once more\n",
		       what);
	lab_fault = false;
	return vmm_exits_counted_once(what, &lab_fault);
}

static bool kvm_attached(void)
{
	return stat_value("kvm_attached") == 1;
}

/*
 * Two VMs with one vCPU each that never runs (so kvmio_lat never sees
 * them), held open while kvm is loaded: kvm switches the scheduler's
 * preempt-notifier static key when the first VM is created and the last
 * destroyed, kvm_has_noapic_vcpu (in kvm_amd's svm_vcpu_load) when the
 * first vCPU without an in-kernel LAPIC, such as the exit loop's, comes
 * and the last goes, and apic_sw_disabled while any in-kernel LAPIC is
 * software-disabled (off a second after the last one is enabled): the
 * same text patching under TCG as above, per VMM run without them.  The
 * second VM has an in-kernel LAPIC that no guest ever enables.
 */
static int keeper_fds[4] = { -1, -1, -1, -1 };	/* VM, vCPU, VM, vCPU */

static void hold_vm(void)
{
	int kvm, *fd = keeper_fds;

	if (!hold_keys || fd[0] >= 0)
		return;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return;
	fd[0] = ioctl(kvm, KVM_CREATE_VM, 0);
	if (fd[0] >= 0)
		fd[1] = ioctl(fd[0], KVM_CREATE_VCPU, 0);
	fd[2] = ioctl(kvm, KVM_CREATE_VM, 0);
	if (fd[2] >= 0 && !ioctl(fd[2], KVM_CREATE_IRQCHIP, 0))
		fd[3] = ioctl(fd[2], KVM_CREATE_VCPU, 0);
	close(kvm);
}

static void release_vm(void)
{
	int i;

	for (i = 3; i >= 0; i--) {	/* each vCPU before its VM */
		if (keeper_fds[i] >= 0)
			close(keeper_fds[i]);
		keeper_fds[i] = -1;
	}
}

/*
 * Loading or unloading kvm patches core-kernel text no hold can spare
 * (since 5.17 kvm_amd switches perf's guest callbacks, static calls): do
 * it with every CPU but cpu0 offline (selftests/lib/labhold.py, one_cpu()).
 */
static unsigned long long offline_cpus;

static void other_cpus(bool online)
{
	char path[64], *s;
	int cpu;

	if (!hold_keys)
		return;
	for (cpu = 1; cpu < 64; cpu++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		if (online) {
			if ((offline_cpus & (1ULL << cpu)) && !write_file(path, "1", 1))
				offline_cpus &= ~(1ULL << cpu);
			continue;
		}
		s = slurp(path);
		if (s && s[0] == '1' && !write_file(path, "0", 1))
			offline_cpus |= 1ULL << cpu;
		free(s);
	}
}

/*
 * The empty VM goes before kvm does and comes right after it, with the
 * other CPUs still offline: after a reload it is kvm's first VM, which flips
 * the preempt-notifier key (a hardening run hung there, a vCPU at a stale
 * int3 in __schedule with its runqueue locked).
 */
static int load_kvm(void)
{
	int ret;

	other_cpus(false);
	ret = run("modprobe kvm_amd");
	if (!ret)
		hold_vm();
	other_cpus(true);
	return ret;
}

static void unload_kvm(void)
{
	other_cpus(false);
	release_vm();
	run("rmmod kvm_amd 2>/dev/null; rmmod kvm 2>/dev/null");
	other_cpus(true);
}

/* ---- tests ---- */

static void test_bad_params(void)
{
	static const char *const bad[] = {
		"max_vms=0", "max_vms=abc", "max_vcpus=5000", "max_threads=3",
		"max_inflight=70000", "doorbell_timeout_ms=0", "spare_vcpus=0",
		"max_vms=-1", "max_vcpus=", "syscall_probes_always=maybe",
		"clock=bogus", "clock=", "syscall_hooks=fprobe", "syscall_hooks=",
	};
	unsigned int i;
	bool ok = true;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = load_module(bad[i]);

		if (ret == 0) {
			unload_module();
			ksft_print_msg("loaded with %s\n", bad[i]);
			ok = false;
		} else if (module_loaded("kvmio_lat") || path_exists(DBG_DIR)) {
			ksft_print_msg("%s left state behind\n", bad[i]);
			ok = false;
		}
	}
	ksft_test_result(ok, "bad module parameters are refused and leave nothing\n");
}

static void test_load_without_kvm(void)
{
	static const char *const files[] = { "hist", "stats", "reset", "enable", "pids" };
	static const mode_t modes[] = { 0400, 0400, 0200, 0600, 0600 };
	unsigned int i;
	bool ok;
	int ret;

	unload_kvm();
	run("dmesg -C");
	ret = load_module("");
	ok = ret == 0 && !module_loaded("kvm") && path_exists(DBG_DIR);
	for (i = 0; ok && i < 5; i++) {
		char p[128];
		struct stat st;

		snprintf(p, sizeof(p), DBG_DIR "/%s", files[i]);
		if (stat(p, &st) || (st.st_mode & 0777) != modes[i]) {
			ksft_print_msg("%s: missing or mode %o\n", p, st.st_mode & 0777);
			ok = false;
		}
	}
	ok = ok && stat_value("kvm_attached") == 0;
	ok = ok && stat_value("syscall_probes") == 0;	/* no VM yet */
	ok = ok && run("test $(dmesg | grep -c 'kvmio_lat: kvm is not loaded') -eq 1") == 0;
	ksft_test_result(ok, "loads without kvm, says so once, debugfs root-only (ret %d)\n", ret);
}

static void test_kvm_after(void)
{
	bool ok = load_kvm() == 0 && kvm_attached();

	ok = ok && vmm_exits_counted("kvm loaded after kvmio_lat");
	ksft_test_result(ok, "attaches when kvm loads later; counts %d exits on each of %d vCPUs\n",
			 nr_exits, nr_vcpus);
}

/*
 * The system-call probes go once no VM is tracked, syscall_linger_ms
 * later (10 s by default): set to 0, which re-arms the detach, at once.
 */
static bool syscall_probes_gone(void)
{
	int i;

	if (write_file("/sys/module/kvmio_lat/parameters/syscall_linger_ms", "0", 1))
		return false;
	for (i = 0; i < 100; i++) {
		if (stat_value("syscall_probes") == 0)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* /sys/module/kvmio_lat/parameters/@name reads @want */
static bool param_is(const char *name, const char *want)
{
	char path[96], *s;
	bool ok;

	snprintf(path, sizeof(path), "/sys/module/kvmio_lat/parameters/%s", name);
	s = slurp(path);
	ok = s && strlen(s) == strlen(want) + 1 && !strncmp(s, want, strlen(want));
	if (!ok)
		ksft_print_msg("%s reads %s, not %s\n", path, s ? s : "nothing", want);
	free(s);
	return ok;
}

static void test_vm_exit_frees(void)
{
	/* the VMM of the previous test has exited: kept until a reset */
	bool kept = stat_value("vms_exited") >= 1;
	/* its system-call probes linger (syscall_linger_ms), then go */
	bool lingered = stat_value("syscall_probes") == 1;

	ksft_test_result(stat_value("vms") == 0 && stat_value("vcpus") == 0 &&
			 stat_value("inflight") == 0 && kept && lingered &&
			 syscall_probes_gone() && write_file(DBG_DIR "/reset", "1", 1) == 0 &&
			 stat_value("vms_exited") == 0,
			 "a VM that exits is kept, marked exited, until reset; the system-call probes linger, then detach\n");
}

static void test_control_files(void)
{
	static const struct { const char *file, *text; } bad[] = {
		{ "enable", "2" }, { "enable", "x" }, { "enable", "" },
		{ "enable", "-1" }, { "reset", "0" }, { "reset", "abc" },
		{ "reset", "1 1" }, { "pids", "12 x" }, { "pids", "-5" },
		{ "pids", "0" }, { "pids", "99999999999" },
	};
	char path[128], *s;
	unsigned int i;
	bool ok = true;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;

		snprintf(path, sizeof(path), DBG_DIR "/%s", bad[i].file);
		ret = write_file(path, bad[i].text, strlen(bad[i].text));
		if (ret != -EINVAL) {
			ksft_print_msg("write '%s' to %s: %d, want -EINVAL\n",
				       bad[i].text, bad[i].file, ret);
			ok = false;
		}
	}
	s = slurp(DBG_DIR "/enable");
	ok = ok && s && !strcmp(s, "1\n");
	free(s);
	ok = ok && write_file(DBG_DIR "/pids", "123, 456\n", 9) == 0;
	s = slurp(DBG_DIR "/pids");
	ok = ok && s && !strcmp(s, "123 456\n");
	free(s);
	ok = ok && write_file(DBG_DIR "/pids", "\n", 1) == 0;
	s = slurp(DBG_DIR "/pids");
	ok = ok && s && !strcmp(s, "\n");
	free(s);
	ok = ok && write_file(DBG_DIR "/reset", "1", 1) == 0;
	ksft_test_result(ok, "control files refuse bad writes with -EINVAL and keep state\n");
}

static void test_kvm_reload(void)
{
	bool ok;

	unload_kvm();
	ok = !module_loaded("kvm") && module_loaded("kvmio_lat") && !kvm_attached();
	ok = ok && load_kvm() == 0 && kvm_attached();
	ok = ok && vmm_exits_counted("after kvm reload");
	ksft_test_result(ok, "kvm unloaded and reloaded under kvmio_lat, counting resumes\n");
}

static void test_unload(void)
{
	int ret = unload_module();

	ksft_test_result(ret == 0 && !path_exists(DBG_DIR) &&
			 !module_loaded("kvmio_lat"),
			 "unload removes debugfs (ret %d)\n", ret);
}

static void test_load_after_kvm(void)
{
	bool ok = module_loaded("kvm") && load_module("") == 0 && kvm_attached();
	char *hooks = slurp("/sys/module/kvmio_lat/parameters/syscall_hooks");

	ksft_print_msg("system calls seen by default through: %s", hooks ? hooks : "?\n");
	free(hooks);

	ok = ok && vmm_exits_counted("kvmio_lat loaded after kvm");
	/* the kretprobes' VM filter in front, where the kernel allows it */
	ksft_print_msg("system-call hooks asking the VM filter first: %ld\n",
		       last_hooks_filtered);
	ok = unload_module() == 0 && ok;
	/* syscall_probes_always: attached from the load on, and they stay */
	ok = ok && load_module("syscall_probes_always=1") == 0 &&
	     stat_value("syscall_probes") == 1;
	ok = ok && vmm_exits_counted("syscall_probes_always=1");
	ok = ok && stat_value("syscall_probes") == 1;
	ok = unload_module() == 0 && ok;
	/* the raw_syscalls fallback attaches and detaches as the hooks do */
	ok = ok && load_module("syscall_hooks=tracepoint") == 0 &&
	     param_is("syscall_hooks", "tracepoint");
	ok = ok && vmm_exits_counted("syscall_hooks=tracepoint");
	ok = ok && syscall_probes_gone();
	ok = unload_module() == 0 && ok;
	ksft_test_result(ok, "loads after kvm and counts (also with syscall_probes_always=1, and syscall_hooks=tracepoint)\n");
}

#define CLOCK_PARAM "/sys/module/kvmio_lat/parameters/clock"

/* clock= reads back; the clock it names times the exits; tsc, if refused, says why */
static bool clock_run(const char *param, const char *want, long *p50)
{
	char *s;
	bool ok;

	s = slurp(CLOCK_PARAM);
	ok = s && !strcmp(s, want);
	if (!ok)
		ksft_print_msg("%s: %s reads %s", param, CLOCK_PARAM, s ? s : "nothing\n");
	free(s);
	ok = vmm_exits_counted(param) && ok;
	*p50 = last_io_p50;
	return unload_module() == 0 && ok;
}

static void test_clock(void)
{
	long p50_ktime = -1, p50_tsc = -1;
	bool ok;

	run("dmesg -C");
	ok = load_module("clock=ktime") == 0 && clock_run("clock=ktime", "ktime\n", &p50_ktime);
	if (load_module("clock=tsc")) {
		/* refused only where the kernel has given up on the TSC */
		ok = ok && !module_loaded("kvmio_lat") &&
		     run("dmesg | grep -q 'clock=tsc: the kernel has marked the TSC unstable'") == 0;
		ksft_test_result(ok, "clock=ktime times exits (p50 %ld ns); clock=tsc refused: TSC unstable here\n",
				 p50_ktime);
		return;
	}
	ok = clock_run("clock=tsc", "tsc\n", &p50_tsc) && ok;
	/* the same exits under either clock: a wrong TSC scale is a factor */
	ok = ok && p50_ktime > 0 && p50_tsc > 0 &&
	     p50_tsc < 3 * p50_ktime && p50_ktime < 3 * p50_tsc;
	ksft_test_result(ok, "clock=ktime and clock=tsc read back and time exits alike (p50 %ld, %ld ns)\n",
			 p50_ktime, p50_tsc);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "vmm", required_argument, NULL, 'v' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "exits", required_argument, NULL, 'e' },
		{ "no-hold-keys", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm': module_path = optarg; break;
		case 'v': vmm_path = optarg; break;
		case 'c': nr_vcpus = atoi(optarg); break;
		case 'e': nr_exits = atoi(optarg); break;
		case 'k': hold_keys = false; break;
		default:
			fprintf(stderr, "usage: %s --module KO --vmm PATH [--vcpus N] [--exits M] [--no-hold-keys]\n",
				argv[0]);
			return 2;
		}
	}
	if (!module_path || !vmm_path || nr_vcpus < 1 || nr_exits < 1) {
		fprintf(stderr, "usage: %s --module KO --vmm PATH [--vcpus N] [--exits M] [--no-hold-keys]\n",
			argv[0]);
		return 2;
	}

	ksft_print_header();
	if (geteuid())
		ksft_exit_skip("needs root (run inside the lab: selftests/lab/lab.sh)\n");
	if (module_loaded("kvmio_lat"))
		unload_module();
	ksft_set_plan(9);
	other_cpus(false);	/* the holds' own first probes patch text */
	hold_core_keys(true);
	other_cpus(true);
	test_bad_params();
	test_load_without_kvm();
	test_kvm_after();
	test_vm_exit_frees();
	test_control_files();
	test_kvm_reload();
	test_unload();
	test_load_after_kvm();
	test_clock();
	other_cpus(false);
	release_vm();
	hold_core_keys(false);
	other_cpus(true);
	ksft_finished();
}
