// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own HMM selftest (tools/testing/selftests/vm/hmm-tests.c,
 * built unmodified as /wd/tests/hmm-tests) run twice in the same guest:
 * against the kernel's test_hmm.ko and against wd_soft's test_hmm
 * compatible nodes (hmm_compat=1). Both results are printed side by side;
 * a case fails here only if it passed against test_hmm and does not pass
 * against WarpDrive.
 *
 * The upstream output is echoed with a "# " prefix so that its own TAP
 * lines are not counted twice by the runner.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wd_test.h"

#define HMM_TESTS	"/wd/tests/hmm-tests"
#define MAX_CASES	128
#define RUN_LIMIT	1200	/* seconds for one whole run of hmm-tests */

enum res { R_NONE, R_PASS, R_FAIL, R_SKIP };

struct hcase {
	char name[96];
	enum res r[2];
};

static struct hcase cases[MAX_CASES];
static int nr_cases;

static const char *const res_name[] = { "-", "PASS", "FAIL", "SKIP" };

static struct hcase *find_case(const char *name)
{
	int i;

	for (i = 0; i < nr_cases; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	if (nr_cases == MAX_CASES)
		return NULL;
	snprintf(cases[nr_cases].name, sizeof(cases[0].name), "%s", name);
	return &cases[nr_cases++];
}

/*
 * The harness announces "#  RUN           NAME ..." and ends a case with
 * "ok N NAME" or "not ok N NAME"; a case that skipped prints "#      SKIP"
 * first (and its TAP line may lack the name, or, for a SKIP() in a
 * fixture set-up, say "ok" with no directive).
 */
static char cur_name[96];
static int cur_skip;

static void parse_line(const char *line, int run)
{
	const char *p = line;
	struct hcase *c;
	int ok = 1;

	if (!strncmp(p, "#  RUN ", 7)) {
		if (sscanf(p + 7, "%95s", cur_name) != 1)
			cur_name[0] = '\0';
		cur_skip = 0;
		return;
	}
	if (!strncmp(p, "#      SKIP", 11)) {
		cur_skip = 1;
		return;
	}
	if (!strncmp(p, "not ok ", 7))
		ok = 0;
	else if (strncmp(p, "ok ", 3))
		return;
	if (!cur_name[0])
		return;
	c = find_case(cur_name);
	if (!c)
		return;
	if (cur_skip || strstr(p, "# SKIP"))
		c->r[run] = R_SKIP;
	else
		c->r[run] = ok ? R_PASS : R_FAIL;
	cur_name[0] = '\0';
}

/* Run hmm-tests, echo its output, record the cases; returns exit status. */
static int run_upstream(int run, const char *label)
{
	char line[512], last[512] = "";
	unsigned long repeats = 0;
	int pfd[2], status;
	time_t start = time(NULL);
	pid_t pid;
	FILE *f;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		setpgid(0, 0);
		alarm(RUN_LIMIT);
		execl(HMM_TESTS, HMM_TESTS, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* A failing teardown can repeat one line thousands of times. */
		if (!strcmp(line, last)) {
			repeats++;
			continue;
		}
		if (repeats)
			printf("# [%s] (last line repeated %lu more times)\n",
			       label, repeats);
		repeats = 0;
		snprintf(last, sizeof(last), "%s", line);
		printf("# [%s] %s\n", label, line);
		parse_line(line, run);
	}
	if (repeats)
		printf("# [%s] (last line repeated %lu more times)\n", label,
		       repeats);
	if (f)
		fclose(f);
	kill(-pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	printf("# [%s] hmm-tests finished in %ld s, status %#x\n", label,
	       (long)(time(NULL) - start), status);
	return status;
}

static void count(int run, int *pass, int *fail, int *skip)
{
	int i;

	*pass = *fail = *skip = 0;
	for (i = 0; i < nr_cases; i++) {
		if (cases[i].r[run] == R_PASS)
			++*pass;
		else if (cases[i].r[run] == R_SKIP)
			++*skip;
		else
			++*fail;	/* failed, or never reported (crash) */
	}
}

int main(void)
{
	int ret, i, k = 0, regress = 0;
	int p0, f0, s0, p1, f1, s1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(HMM_TESTS, X_OK)) {
		printf("1..0 # SKIP %s missing\n", HMM_TESTS);
		return 4;
	}

	/* The nodes, like test_hmm itself, need device-private memory. */
	ret = wd_test_devpriv_probe();
	if (ret < 0) {
		printf("# cannot read %s's flags: %s\n", WD_TEST_DEV, strerror(-ret));
		return 1;
	}
	if (!ret) {
		printf("1..0 # SKIP no device-private memory: kernel without CONFIG_DEVICE_PRIVATE\n");
		return 4;
	}

	/* Run 0: the kernel's test_hmm, with WarpDrive's nodes out of the way. */
	if (wd_test_module_loaded("wd_soft") && (ret = wd_test_rmmod("wd_soft"))) {
		printf("# cannot unload wd_soft: %s\n", strerror(-ret));
		return 1;
	}
	ret = wd_test_insmod("test_hmm", NULL);
	if (ret) {
		printf("# cannot load test_hmm: %s\n", strerror(-ret));
		return 1;
	}
	run_upstream(0, "test_hmm");
	ret = wd_test_rmmod("test_hmm");
	if (ret)
		printf("# cannot unload test_hmm: %s\n", strerror(-ret));

	/* Run 1: WarpDrive's test_hmm compatible nodes. */
	ret = wd_test_load("num_devices=2 hmm_compat=1");
	if (ret) {
		printf("# cannot load wd_soft hmm_compat=1: %s\n", strerror(-ret));
		return 1;
	}
	run_upstream(1, "warpdrive");
	ret = wd_test_rmmod("wd_soft");
	if (ret)
		printf("# cannot unload wd_soft: %s\n", strerror(-ret));
	ret = wd_test_load(NULL) || ret;

	printf("TAP version 13\n1..%d\n", nr_cases);
	printf("# %-55s %-9s %-9s\n", "upstream hmm-tests case", "test_hmm", "warpdrive");
	for (i = 0; i < nr_cases; i++) {
		struct hcase *c = &cases[i];
		int bad = c->r[0] == R_PASS && c->r[1] != R_PASS;

		printf("# %-55s %-9s %-9s%s\n", c->name, res_name[c->r[0]],
		       res_name[c->r[1]], bad ? "  <- regression" : "");
		regress += bad;
	}
	count(0, &p0, &f0, &s0);
	count(1, &p1, &f1, &s1);
	printf("# test_hmm:  %d passed, %d failed, %d skipped\n", p0, f0, s0);
	printf("# warpdrive: %d passed, %d failed, %d skipped\n", p1, f1, s1);
	for (i = 0; i < nr_cases; i++) {
		struct hcase *c = &cases[i];

		k++;
		if (c->r[0] == R_PASS && c->r[1] != R_PASS)
			printf("not ok %d upstream %s (test_hmm %s, warpdrive %s)\n",
			       k, c->name, res_name[c->r[0]], res_name[c->r[1]]);
		else if (c->r[0] != R_PASS && c->r[1] != R_PASS)
			printf("ok %d upstream %s # SKIP test_hmm %s, warpdrive %s\n",
			       k, c->name, res_name[c->r[0]], res_name[c->r[1]]);
		else
			printf("ok %d upstream %s (test_hmm %s, warpdrive %s)\n",
			       k, c->name, res_name[c->r[0]], res_name[c->r[1]]);
	}
	if (ret)
		printf("# module reload at the end failed\n");
	return regress || ret ? 1 : 0;
}
