#!/usr/bin/env python3
"""Boot the WarpDrive guest in QEMU and report what it did.

Modes (the guest's /init reads wd.mode from the kernel command line):
  test      run every program listed in tests/list, print each result and
            the closing line "N passed, N failed, N skipped"
  selftest  prove the kernel-report detector works: a WARN must be caught
  run       the demo
  bench     wdbench; with --bench-json FILE every figure (the records
            wdbench writes with --json) goes to FILE on the host, with
            the date, the QEMU and CPU of the run
  shell     an interactive guest on this terminal

The kernel console (first serial port) goes to a log file; step output
comes back on the second serial port. Any kernel report (BUG, WARNING,
Oops, KASAN, lockdep, list corruption, lockups, hung tasks) printed while a
step runs is a failure of that step. Exit status is non-zero on any
failure, report, timeout or guest crash.
"""

import argparse
import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import time

SPLAT = re.compile(
    r"(BUG:|WARNING:|Oops|general protection fault|Kernel panic|"
    r"KASAN|UBSAN|kernel BUG at|list_add corruption|list_del corruption|"
    r"soft lockup|hard LOCKUP|blocked for more than|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|rcu.*detected stall|Call Trace:)"
)
# kselftest_harness writes a skipped test as "ok N # SKIP reason", without
# its name: the name is the one of the "#  RUN" line before it.
TAP = re.compile(r"^(not ok|ok) \d+ ?(.*?)(\s*#\s*(SKIP|skip|XFAIL).*)?$")
RUN = re.compile(r"^#\s+RUN\s+(\S+)")
# The IOMMU's report of a DMA it refused names the requesting device:
#   DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x0 ...
# WarpDrive's PCI devices failing a DMA fail the running step; the faults of
# the baseline device belong to the kernel's own driver and are only shown.
DMAR_FAULT = re.compile(r"DMAR: \[DMA (Read|Write)[^\]]*\] Request device "
                        r"\[([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\] fault addr (0x[0-9a-f]+)")
KVM_GET_API_VERSION = 0xAE00

# PCI devices of the guest (q35). Each sits alone on a hot-pluggable PCIe
# root port, so its bus number is fixed: the port at slot N of pcie.0 is
# bus N's bridge, in the order below (the guest enumerates them in order).
#   NAME: (root port, bus:dev.fn in the guest, role, QEMU device arguments)
# The virtio-crypto devices use packed virtqueues: QEMU before 9.0 (commit
# 47293c922cb4, "physmem: Fix wrong address in large
# address_space_read/write_cached_slow()") writes the second half of an
# access that crosses a page of an IOMMU-translated ring cache to the
# offset inside the ring instead of ring IOVA + offset. A 1024-entry split
# ring (virtio-crypto's data queues) has two 8-byte used elements that
# cross a page; their len halves went to IOVA 0x7c0 and 0x17c0, refused
# by the IOMMU (DMAR faults at 0x0 and 0x1000 with any driver). A packed
# ring's 16-byte descriptors never cross a page.
PCI_DEVICES = {
    "wdcrypto": ("rp1", "01:00.0", "warpdrive",
                 "virtio-crypto-pci,cryptodev=cd0,iommu_platform=on,packed=on,"
                 "disable-legacy=on"),
    "basecrypto": ("rp2", "02:00.0", "baseline",
                   "virtio-crypto-pci,cryptodev=cd1,iommu_platform=on,packed=on,"
                   "disable-legacy=on"),
    # Device memory on a BAR (wd_bar): ivshmem-plain's BAR 2 is the host
    # memory object WDBAR_MEM, kept when the device is unplugged so that a
    # replug finds it again.
    "wdbar": ("rp3", "03:00.0", "warpdrive", "ivshmem-plain,memdev=wdbarmem"),
}
WDBAR_SIZE = 64 << 20
WDBAR_MEM = "memory-backend-ram,id=wdbarmem,size=%d" % WDBAR_SIZE


def kvm_works(kernel, cache):
    """True when KVM really runs this kernel; QEMU uses TCG otherwise.

    /dev/kvm can exist and answer and still be unusable (nested setups
    that reject MSR writes, or hang with no output), so the probe boots the
    kernel under KVM for a few seconds and looks for its first console
    line. The answer is cached next to the logs.
    """
    if os.path.exists(cache):
        with open(cache) as f:
            return f.read().strip() == "yes"
    ok = False
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        try:
            ok = fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
        finally:
            os.close(fd)
    except OSError:
        ok = False
    if ok:
        log = cache + ".console"
        cmd = ["qemu-system-x86_64", "-nodefaults", "-no-reboot", "-m", "256",
               "-accel", "kvm", "-cpu", "host", "-kernel", kernel,
               "-display", "none", "-monitor", "none", "-serial", "file:" + log,
               "-append", "console=ttyS0 panic=-1 rdinit=/nonexistent"]
        try:
            subprocess.run(cmd, timeout=8, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pass
        try:
            with open(log, errors="replace") as f:
                ok = "Linux version" in f.read()
        except OSError:
            ok = False
    with open(cache, "w") as f:
        f.write("yes\n" if ok else "no\n")
    return ok


def qemu_command(args, console, results):
    cmd = ["qemu-system-x86_64", "-nodefaults", "-no-reboot",
           "-m", str(args.memory), "-smp", str(args.cpus),
           "-kernel", args.kernel, "-initrd", args.initrd]
    if not args.no_kvm and kvm_works(args.kernel, os.path.join(args.logdir, "kvm-probe")):
        cmd += ["-accel", "kvm", "-cpu", "host"]
    else:
        cmd += ["-accel", "tcg", "-cpu", "max"]
    # q35 with the Intel IOMMU translating every DMA, invalidated strictly
    # on unmap; the crypto devices and the BAR device each on their own
    # hot-pluggable root port.
    # Hot-plug on the root ports is QEMU's q35 default, ACPI hot-plug
    # (acpiphp in the guest). Native PCIe hot-plug (pciehp) works too, but
    # 6.1's pciehp trips lockdep on every removal (pci_rescan_remove_lock
    # against its reset_lock), which would switch lockdep off for the rest
    # of the run.
    cmd += ["-machine", "q35", "-device", "intel-iommu,aw-bits=48",
            "-object", "cryptodev-backend-builtin,id=cd0",
            "-object", "cryptodev-backend-builtin,id=cd1",
            "-object", WDBAR_MEM]
    for i, (name, (port, _bdf, _role, dev)) in enumerate(PCI_DEVICES.items()):
        cmd += ["-device", "pcie-root-port,id=%s,bus=pcie.0,chassis=%d,slot=%d,addr=0x%x"
                % (port, i + 1, i + 1, 0x10 + i),
                "-device", "%s,id=%s,bus=%s" % (dev, name, port)]
    if args.mode != "shell":
        cmd += ["-qmp", "unix:%s,server=on,wait=off" % args.qmp]
    # secretmem.enable=1: memfd_secret() works as on kernels from 6.5 on,
    # where it is the default, so the tests can check WarpDrive refuses it.
    append = ["console=ttyS0", "panic=-1", "secretmem.enable=1",
              "intel_iommu=on", "iommu.strict=1",
              "wd.mode=" + args.mode, "wd.test_timeout=%d" % args.test_timeout]
    if args.only:
        append.append("wd.only=" + args.only)
    if args.bench_args:
        append.append("wd.bench=" + ",".join(args.bench_args.split()))
    if args.mode == "shell":
        cmd += ["-display", "none", "-serial", "mon:stdio",
                "-serial", "file:/dev/null"]
    else:
        append += ["loglevel=7"]
        cmd += ["-display", "none", "-monitor", "none",
                "-serial", "file:" + console, "-serial", "file:" + results]
    cmd += ["-append", " ".join(append + args.append)]
    return cmd


class Qmp:
    """The host side of hot-plug: guest steps print "@@QMP unplug NAME" or
    "@@QMP replug NAME" on the results port and wait (bounded) until they
    see the device go or come; this carries the request out on QEMU's QMP
    monitor. Replies and errors are logged to LOGDIR/qmp.log."""

    def __init__(self, path, log):
        self.path, self.log, self.sock, self.buf = path, log, None, b""
        # Memory backend each memdev device has now (see request()).
        self.memdevs, self.replugs = {}, 0

    def _note(self, text):
        with open(self.log, "a") as f:
            f.write("%.3f %s\n" % (time.time(), text))

    def _recv(self, timeout):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no QMP reply")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command, arguments=None, timeout=10):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.path)
            self._recv(timeout)                      # greeting
            self.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
            while "return" not in self._recv(timeout):
                pass
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._recv(timeout)
            if "event" in reply:
                self._note("event %s" % json.dumps(reply))
                continue
            self._note("%s %s -> %s" % (command, json.dumps(arguments), json.dumps(reply)))
            return reply

    def present(self, name):
        reply = self.execute("qom-list", {"path": "/machine/peripheral"})
        return any(p.get("name") == name for p in reply.get("return", []))

    def request(self, line):
        """Carry out one "@@QMP VERB NAME" line; errors are logged only."""
        parts = line.split()
        try:
            verb, name = parts[1], parts[2]
            port, _bdf, _role, dev = PCI_DEVICES[name]
            if verb == "unplug":
                self.execute("device_del", {"id": name})
            elif verb == "replug":
                # The old device is gone from QEMU only once the guest
                # powered its slot off; wait for that (bounded).
                end = time.time() + 30
                while self.present(name) and time.time() < end:
                    time.sleep(0.2)
                driver, _, rest = dev.partition(",")
                props = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
                props.update({"driver": driver, "id": name, "bus": port})
                if "memdev" in props:
                    # QEMU 7.2 aborts when a memory backend is given to a
                    # second device (its RAM block keeps the first one's
                    # name): each plug gets a fresh backend, the old goes.
                    old = self.memdevs.get(name, props["memdev"])
                    self.replugs += 1
                    new = "%s%d" % (props["memdev"], self.replugs)
                    self.execute("object-del", {"id": old})
                    self.execute("object-add", {
                        "qom-type": "memory-backend-ram", "id": new,
                        "size": WDBAR_SIZE})
                    self.memdevs[name] = new
                    props["memdev"] = new
                self.execute("device_add", props)
            else:
                self._note("unknown request: " + line)
        except Exception as e:  # the guest's wait times out and says so
            self._note("request %r failed: %s" % (line, e))


class Step:
    def __init__(self, name):
        self.name = name
        self.rc = None
        self.output = []
        self.splats = []


def parse_results(text):
    steps, cur, done = [], None, False
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("@@BEGIN "):
            cur = Step(line[8:].strip())
            steps.append(cur)
        elif line.startswith("@@END ") and cur is not None:
            parts = line.split()
            cur.rc = int(parts[2]) if len(parts) > 2 and parts[2].lstrip("-").isdigit() else -1
            cur = None
        elif line.startswith("@@DONE"):
            done = True
        elif cur is not None:
            cur.output.append(line)
    return steps, done


def dmar_role(line):
    """Role of the device an IOMMU fault line names, None if not a fault
    line."""
    m = DMAR_FAULT.search(line)
    if not m:
        return None
    for _port, bdf, role, _dev in PCI_DEVICES.values():
        if bdf == m.group(2):
            return role
    return "unknown"


def attribute_splats(console_text, steps, baseline_faults):
    """Give each kernel report to the step that was running when it came.

    IOMMU faults of the baseline device go to baseline_faults instead."""
    by_name = {s.name: s for s in steps}
    current, lost, lines = "boot", [], console_text.splitlines()
    skip_until = -1
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r")
        m = re.search(r"WDTEST: (begin|end) (\S+)", line)
        if m:
            if m.group(1) == "begin":
                current = m.group(2)
            continue
        if "WDTEST: done" in line:
            current = "shutdown"
            continue
        role = dmar_role(line)
        if role == "baseline":
            baseline_faults.append((current, role, line.strip()))
            continue
        if role is not None:
            step = by_name.get(current)
            (step.splats if step else lost).append(
                (line, "IOMMU fault by %s device: %s" % (role, line.strip())))
            continue
        if SPLAT.search(line) and i > skip_until:
            skip_until = i + 40  # one report, however many lines match
            report = "\n".join(l.rstrip("\r") for l in lines[max(0, i - 2):i + 40])
            step = by_name.get(current)
            (step.splats if step else lost).append((line, report))
    return lost


def count_step(step, verbose):
    """Return (passed, failed, skipped) for one step and print it."""
    passed = failed = skipped = 0
    cases = []
    running = ""
    for line in step.output:
        r = RUN.match(line.strip())
        if r:
            running = r.group(1)
        m = TAP.match(line.strip())
        if m:
            cases.append((m.group(1), m.group(2).strip() or running, m.group(4)))
    if cases:
        for status, name, directive in cases:
            label = "%s: %s" % (step.name, name)
            if directive and directive.upper() == "SKIP":
                skipped += 1
                print("SKIP  " + label)
            elif status == "ok":
                passed += 1
                print("PASS  " + label)
            else:
                failed += 1
                print("FAIL  " + label)
        if step.rc not in (0, 4):  # 4 is kselftest's "skipped"
            failed += 1
            print("FAIL  %s: exited with status %s" % (step.name, step.rc))
    else:
        if step.rc == 0:
            passed += 1
            print("PASS  " + step.name)
        elif step.rc == 4:
            skipped += 1
            print("SKIP  " + step.name)
        else:
            failed += 1
            why = "timed out" if step.rc in (137, None) else "status %s" % step.rc
            print("FAIL  %s (%s)" % (step.name, why))
    for first, report in step.splats:
        failed += 1
        print("FAIL  %s: kernel report: %s" % (step.name, first.strip()))
        print("      " + report.replace("\n", "\n      "))
    if (failed or verbose) and step.output:
        print("      --- output of %s ---" % step.name)
        for line in step.output[-200:]:
            print("      " + line)
    return passed, failed, skipped


def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=30).stdout
        return out.splitlines()[0].strip() if out.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def host_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def write_bench_json(path, args, cmd, steps, start, elapsed, load0, ok):
    """The records of the bench-json step, with the run's context, as one
    JSON document: {"run": {...}, "meta": {wdbench's}, "records": [...]}."""
    meta, records, end = {}, [], None
    for s in steps:
        if s.name != "bench-json":
            continue
        for line in s.output:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            kind = obj.pop("type", "record")
            if kind == "meta":
                meta = obj
            elif kind == "end":
                end = obj
            else:
                records.append(obj)
    accel = cmd[cmd.index("-accel") + 1] if "-accel" in cmd else None
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        "command": "make bench" + (
            " KERNEL=%s" % os.environ["WD_KERNEL"]
            if os.environ.get("WD_KERNEL", "6.1") != "6.1" else "") + (
            " BENCH_ARGS=\"%s\"" % args.bench_args
            if args.bench_args.strip() else ""),
        "bench_args": args.bench_args,
        "complete": bool(ok and end is not None and not end.get("failed")),
        "guest_seconds": round(elapsed, 1),
        "wdbench_seconds": end.get("seconds") if end else None,
        "qemu": first_line(["qemu-system-x86_64", "--version"]),
        "accel": accel,
        "guest_cpus": args.cpus,
        "guest_memory_mib": args.memory,
        "kernel_image": args.kernel,
        "host_cpu": host_cpu(),
        "host_cpus": os.cpu_count(),
        "host_loadavg_before": load0,
        "host_loadavg_after": loadavg(),
        "commit": first_line(["git", "-C", root, "describe", "--always",
                              "--dirty", "--abbrev=12"]),
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"run": run, "meta": meta, "records": records}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print("bench: %d records in %s" % (len(records), path))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--mode", default="test",
                    choices=["test", "selftest", "run", "bench", "shell"])
    ap.add_argument("--logdir", default="build/logs")
    ap.add_argument("--memory", type=int, default=2048, help="guest MiB")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1800,
                    help="whole-run limit in seconds")
    ap.add_argument("--test-timeout", type=int, default=180,
                    help="default per-step limit in seconds (tests/list may set its own)")
    ap.add_argument("--only", help="run just this test program")
    ap.add_argument("--bench-args", default="",
                    help="arguments for wdbench in --mode bench, e.g. '--scenario mmu'")
    ap.add_argument("--bench-json", metavar="FILE",
                    help="in --mode bench, write every figure to FILE (JSON)")
    ap.add_argument("--no-kvm", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print every step's output, not only failing ones")
    ap.add_argument("append", nargs="*", help="extra kernel arguments")
    args = ap.parse_args()

    os.makedirs(args.logdir, exist_ok=True)
    args.qmp = os.path.join(args.logdir, "qmp-%s.sock" % args.mode)
    if os.path.exists(args.qmp):
        os.unlink(args.qmp)
    qmp_log = os.path.join(args.logdir, "qmp-%s.log" % args.mode)
    open(qmp_log, "w").close()
    qmp = Qmp(args.qmp, qmp_log)
    console = os.path.join(args.logdir, "console-%s.log" % args.mode)
    results = os.path.join(args.logdir, "results-%s.log" % args.mode)
    for f in (console, results):
        open(f, "w").close()
    cmd = qemu_command(args, console, results)

    if args.mode == "shell":
        return subprocess.call(cmd)

    start = time.time()
    load0 = loadavg()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    shown, requests, timed_out = 0, 0, False
    while proc.poll() is None:
        if time.time() - start > args.timeout:
            timed_out = True
            proc.kill()
            break
        time.sleep(0.2)
        with open(results, errors="replace") as f:
            text = f.read()
        # Progress: announce steps as they start (results are judged at the end).
        begins = [l for l in text.splitlines() if l.startswith("@@BEGIN ")]
        for l in begins[shown:]:
            print("...   " + l[8:].strip(), file=sys.stderr, flush=True)
        shown = len(begins)
        asks = [l for l in text.splitlines() if l.startswith("@@QMP ")]
        for l in asks[requests:]:
            qmp.request(l)
        requests = len(asks)
    proc.wait()
    elapsed = time.time() - start

    with open(results, errors="replace") as f:
        steps, done = parse_results(f.read())
    with open(console, errors="replace") as f:
        console_text = f.read()
    baseline_faults = []
    lost = attribute_splats(console_text, steps, baseline_faults)
    for where, role, line in baseline_faults:
        print("NOTE  IOMMU fault by the baseline device (the kernel's own "
              "virtio_crypto driver) during %s: %s" % (where, line))

    if args.mode in ("run", "bench"):
        for s in steps:
            if s.name == "bench-json":
                continue
            for line in s.output:
                print(line)
        bad = [s for s in steps if s.rc != 0 or s.splats] or lost
        if args.mode == "bench" and args.bench_json:
            write_bench_json(args.bench_json, args, cmd, steps, start, elapsed,
                             load0, not (timed_out or not done or bad))
        for s in steps:
            for first, report in s.splats:
                print("kernel report during %s: %s\n%s" % (s.name, first, report))
        for first, report in lost:
            print("kernel report: %s\n%s" % (first, report))
        if timed_out or not done or bad:
            print("%s failed (%s); kernel log: %s" % (
                args.mode, "timed out" if timed_out else
                "guest stopped early" if not done else "see above", console))
            return 1
        return 0

    passed = failed = skipped = 0
    for s in steps:
        p, f_, sk = count_step(s, args.verbose)
        passed, failed, skipped = passed + p, failed + f_, skipped + sk
    for first, report in lost:
        failed += 1
        print("FAIL  kernel report outside any step: %s" % first.strip())
        print("      " + report.replace("\n", "\n      "))
    if timed_out:
        failed += 1
        print("FAIL  whole run timed out after %d s" % args.timeout)
    elif not done:
        failed += 1
        last = steps[-1].name if steps else "boot"
        print("FAIL  guest stopped before the end (during %s); tail of the kernel log:" % last)
        for line in console_text.splitlines()[-30:]:
            print("      " + line)

    print("guest time %.1f s, kernel log in %s" % (elapsed, console))
    if args.mode == "selftest":
        # The self-test passes when the detector caught the WARN it provoked.
        warn = [s for s in steps if s.name == "warn-is-detected"]
        caught = bool(warn and warn[0].splats)
        print("runner self-test: WARN %s" % ("detected" if caught else "NOT detected"))
        print("1 passed, 0 failed" if caught and done else "0 passed, 1 failed")
        return 0 if caught and done else 1

    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed or not done or timed_out else 0


if __name__ == "__main__":
    sys.exit(main())
