/* A static helper the security tests copy into containers. Each mode tries something a
 * container must not be able to do and prints the outcome, one "name: result" line per try
 * ("OK" or strerror). Every call is harmless even when it is allowed (invalid arguments,
 * missing paths, read-only queries), so a broken sandbox fails the test, not the host.
 *   escape_probe syscalls   the calls the default seccomp profile refuses
 *   escape_probe ids        "uid=U euid=E": run setuid-root to check no_new_privs
 *   escape_probe exec-server PATH
 *                           asks the exec server listening on PATH (the container's own,
 *                           bound in by the test) to take a request; "exec-server: refused"
 *                           is the expected answer. The request carries no fds, so even a
 *                           server that took it could run nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void Report(const char* name, long rc) {
  printf("%s: %s\n", name, rc < 0 ? strerror(errno) : "OK");
}

#define TRY(name, ...) Report(name, syscall(__VA_ARGS__))

/* clone(2) with a namespace flag; a child that was created exits at once. */
static long CloneWith(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid;
}

static void ProbeSyscalls(void) {
  struct timex tx;
  memset(&tx, 0, sizeof(tx));
  TRY("keyctl", SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
  TRY("add_key", SYS_add_key, "user", "quilt-probe", "x", 1, -3);
  TRY("request_key", SYS_request_key, "user", "quilt-probe", NULL, 0);
  TRY("kexec_load", SYS_kexec_load, 0, 0, NULL, 0xffff0000UL);
  TRY("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, NULL, 0);
  TRY("bpf", SYS_bpf, -1, NULL, 0);
  TRY("perf_event_open", SYS_perf_event_open, NULL, 0, -1, -1, 0);
  /* PEEKDATA without an attach: ESRCH when allowed, and it never stops pid 1. */
  TRY("ptrace", SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 1, 0, 0);
  TRY("process_vm_readv", SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0);
  TRY("process_vm_writev", SYS_process_vm_writev, 1, NULL, 0, NULL, 0, 0);
  TRY("mount", SYS_mount, "none", "/tmp", "quilt-no-such-fs", 0, NULL);
  TRY("umount2", SYS_umount2, "/quilt-no-such-dir", 0);
  TRY("pivot_root", SYS_pivot_root, "/quilt-no-such-dir", "/quilt-no-such-dir");
  Report("clone", CloneWith(CLONE_NEWUSER));
  TRY("clone3", SYS_clone3, NULL, 0);
  TRY("setns", SYS_setns, -1, 0);
  TRY("open_by_handle_at", SYS_open_by_handle_at, -1, NULL, 0);
  TRY("name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0);
  TRY("init_module", SYS_init_module, NULL, 0, "");
  TRY("finit_module", SYS_finit_module, -1, "", 0);
  TRY("delete_module", SYS_delete_module, "quilt_no_such_module", O_NONBLOCK);
  TRY("iopl", SYS_iopl, 0);
  TRY("ioperm", SYS_ioperm, 0, 0, 0);
  TRY("swapon", SYS_swapon, "/quilt-no-such-file", 0);
  TRY("swapoff", SYS_swapoff, "/quilt-no-such-file");
  TRY("reboot", SYS_reboot, 0, 0, 0, NULL);
  TRY("settimeofday", SYS_settimeofday, NULL, NULL);
  TRY("clock_settime", SYS_clock_settime, CLOCK_REALTIME, NULL);
  TRY("adjtimex", SYS_adjtimex, &tx);
  TRY("acct", SYS_acct, "/quilt-no-such-file");
  TRY("syslog", SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
  TRY("userfaultfd", SYS_userfaultfd, O_CLOEXEC);
  TRY("quotactl", SYS_quotactl, 0, NULL, 0, NULL);
  TRY("fsopen", SYS_fsopen, "quilt-no-such-fs", 0);
  TRY("fsmount", SYS_fsmount, -1, 0, 0);
  TRY("fsconfig", SYS_fsconfig, -1, 0, NULL, NULL, 0);
  TRY("move_mount", SYS_move_mount, -1, "", -1, "", 0);
  TRY("open_tree", SYS_open_tree, -1, "/quilt-no-such-dir", 0);
  TRY("fspick", SYS_fspick, -1, "/quilt-no-such-dir", 0);
  TRY("mount_setattr", SYS_mount_setattr, -1, "/quilt-no-such-dir", 0, NULL, 0);
  /* Turning ASLR off; restored at once when it was allowed. */
  long old = syscall(SYS_personality, ADDR_NO_RANDOMIZE);
  Report("personality", old);
  if (old >= 0) syscall(SYS_personality, old);
  TRY("personality_linux", SYS_personality, PER_LINUX);
  /* Last: when allowed, it moves this process into a new user namespace. */
  TRY("unshare", SYS_unshare, CLONE_NEWUSER);
}

static void ProbeExecServer(const char* path) {
  struct sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path, sizeof(address.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&address, sizeof(address)) != 0) {
    printf("exec-server: connect: %s\n", strerror(errno));
    return;
  }
  /* An ExecServerRequest (exec_server_protocol.h): the magic, all else zero. */
  char request[16] = {0x31, 0x78, 0x65, 0x71};
  (void)send(fd, request, sizeof(request), MSG_NOSIGNAL);
  struct timeval timeout = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char reply[256];
  ssize_t n = recv(fd, reply, sizeof(reply) - 1, 0);
  if (n == 1 && reply[0] == 'r') {
    printf("exec-server: refused\n");
  } else if (n > 0) {
    reply[n] = '\0';
    printf("exec-server: answered %s\n", reply);
  } else {
    printf("exec-server: %s\n", n == 0 ? "closed without an answer" : strerror(errno));
  }
  close(fd);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && strcmp(argv[1], "syscalls") == 0) {
    ProbeSyscalls();
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "ids") == 0) {
    printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "exec-server") == 0) {
    ProbeExecServer(argv[2]);
    return 0;
  }
  fprintf(stderr, "usage: escape_probe syscalls|ids|exec-server PATH\n");
  return 2;
}
