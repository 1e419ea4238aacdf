#include "runtime/seccomp.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <array>
#include <cctype>
#include <cerrno>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"

namespace skiff::runtime {

namespace {

// Linux system calls take at most six arguments (seccomp_data.args[6]).
constexpr unsigned kMaxSyscallArgs = 6;
// SECCOMP_RET_DATA is 16 bits wide; larger errno/trace values would be silently truncated.
constexpr uint32_t kMaxRetData = 0xffff;

constexpr std::string_view kArchPrefix = "SCMP_ARCH_";

// Every architecture name the OCI spec defines; seccomp_known_architectures() reports the
// ones this libseccomp resolves.
constexpr std::array<std::string_view, 23> kOciArchitectures = {
    "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",       "SCMP_ARCH_AARCH64",   "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",     "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",   "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",        "SCMP_ARCH_SHEB",
};

struct FlagAttr {
    std::string_view name;
    scmp_filter_attr attr;
};
constexpr std::array<FlagAttr, 3> kFlags = {{
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
}};

struct OpName {
    std::string_view name;
    scmp_compare op;
};
constexpr std::array<OpName, 7> kOperators = {{
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
}};

// Built with append: g++ 12 at -O3 warns falsely (-Wrestrict) on "\"" + str + "\"".
std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.append(1, '"').append(s).append(1, '"');
    return out;
}

std::string indexed(std::string_view base, size_t i) {
    return std::string(base) + "[" + std::to_string(i) + "]";
}

// Map an action name (plus errnoRet where it applies) to the libseccomp action value.
// ERRNO and TRACE default to EPERM when errnoRet is absent, as runc does.
Result<uint32_t> parse_action(const std::string& name, std::optional<uint32_t> errno_ret,
                              const std::string& where, const std::string& errno_where) {
    if (name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE") {
        uint32_t ret = errno_ret.value_or(EPERM);
        if (ret > kMaxRetData) return fail(errno_where + ": must be at most 65535");
        return name == "SCMP_ACT_ERRNO" ? SCMP_ACT_ERRNO(ret) : SCMP_ACT_TRACE(ret);
    }
    // SCMP_ACT_KILL has always meant "kill the thread" (SECCOMP_RET_KILL).
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
    if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
    if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
    if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
    if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
    return fail(where + ": unknown action " + in_quotes(name));
}

// "SCMP_ARCH_X86_64" -> libseccomp token, 0 when unknown to this libseccomp.
uint32_t resolve_arch(std::string_view name) {
    if (!name.starts_with(kArchPrefix) || name.size() == kArchPrefix.size()) return 0;
    std::string lower(name.substr(kArchPrefix.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return seccomp_arch_resolve_name(lower.c_str());
}

std::optional<scmp_compare> parse_operator(std::string_view name) {
    for (const auto& o : kOperators) {
        if (o.name == name) return o.op;
    }
    return std::nullopt;
}

class Context {
public:
    explicit Context(scmp_filter_ctx ctx) : ctx_(ctx) {}
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    ~Context() {
        if (ctx_) seccomp_release(ctx_);
    }
    scmp_filter_ctx get() const { return ctx_; }
    scmp_filter_ctx release() { return std::exchange(ctx_, nullptr); }

private:
    scmp_filter_ctx ctx_;
};

// Add the rules of one linux.seccomp.syscalls[] entry.
Status add_syscall_rules(scmp_filter_ctx ctx, const SeccompSyscall& call, size_t index,
                         uint32_t default_action, bool& has_notify, size_t& rules) {
    const std::string where = indexed("linux.seccomp.syscalls", index);
    SKIFF_TRY(action, parse_action(call.action, call.errno_ret, where + ".action",
                                   where + ".errnoRet"));

    std::vector<scmp_arg_cmp> conditions;
    std::array<unsigned, kMaxSyscallArgs> per_index{};
    for (size_t j = 0; j < call.args.size(); ++j) {
        const SeccompArg& arg = call.args[j];
        const std::string arg_where = indexed(where + ".args", j);
        if (arg.index >= kMaxSyscallArgs)
            return fail(arg_where + ".index: must be less than " +
                        std::to_string(kMaxSyscallArgs));
        auto op = parse_operator(arg.op);
        if (!op) return fail(arg_where + ".op: unknown operator " + in_quotes(arg.op));
        // For MASKED_EQ libseccomp takes datum_a as the mask and datum_b as the value,
        // which is exactly value/valueTwo in the spec.
        conditions.push_back(scmp_arg_cmp{arg.index, *op, arg.value, arg.value_two});
        ++per_index[arg.index];
    }
    if (call.names.empty()) return fail(where + ".names: must be non-empty");

    // Resolve every name first, so a typo is reported even when the rule would be skipped.
    std::vector<int> numbers;
    for (size_t n = 0; n < call.names.size(); ++n) {
        int nr = seccomp_syscall_resolve_name(call.names[n].c_str());
        if (nr == __NR_SCMP_ERROR)
            return fail(indexed(where + ".names", n) + ": unknown syscall " +
                        in_quotes(call.names[n]));
        numbers.push_back(nr);
    }

    // libseccomp refuses rules whose action is the default one; they are redundant anyway.
    if (action == default_action) return ok();

    // runc's rule: when two conditions compare the same argument, an AND of them is
    // usually unsatisfiable (arg0 == 1 && arg0 == 2), so every condition becomes its own
    // rule (OR). Otherwise all conditions form one rule (AND).
    bool split = false;
    for (unsigned count : per_index) split = split || count > 1;

    for (size_t n = 0; n < numbers.size(); ++n) {
        auto add = [&](unsigned count, const scmp_arg_cmp* conds) -> Status {
            // Non-exact add: libseccomp translates the rule for every filter architecture.
            int rc = seccomp_rule_add_array(ctx, action, numbers[n], count, conds);
            if (rc < 0)
                return sys_error(-rc, indexed(where + ".names", n) + ": add rule for " +
                                          in_quotes(call.names[n]));
            ++rules;
            return ok();
        };
        if (conditions.empty() || !split) {
            SKIFF_CHECK(add(static_cast<unsigned>(conditions.size()), conditions.data()));
        } else {
            for (const auto& cond : conditions) SKIFF_CHECK(add(1, &cond));
        }
    }
    if (action == SCMP_ACT_NOTIFY) has_notify = true;
    return ok();
}

}  // namespace

SeccompFilter& SeccompFilter::operator=(SeccompFilter&& o) noexcept {
    if (this != &o) {
        if (ctx_) seccomp_release(ctx_);
        ctx_ = std::exchange(o.ctx_, nullptr);
        has_notify_ = std::exchange(o.has_notify_, false);
    }
    return *this;
}

SeccompFilter::~SeccompFilter() {
    if (ctx_) seccomp_release(ctx_);
}

Result<std::string> SeccompFilter::export_pfc() const {
    if (!ctx_) return fail("seccomp: no filter");
    // libseccomp writes to an fd; an anonymous memory file keeps this off the filesystem.
    UniqueFd fd(::memfd_create("skiff-seccomp-pfc", MFD_CLOEXEC));
    if (!fd) return sys_error("memfd_create");
    if (int rc = seccomp_export_pfc(ctx_, fd.get()); rc < 0)
        return sys_error(-rc, "seccomp_export_pfc");
    if (::lseek(fd.get(), 0, SEEK_SET) < 0) return sys_error("lseek");
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read seccomp pfc");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<int> SeccompFilter::load() {
    if (!program_.empty() && !has_notify_) {
        struct sock_fprog prog {};
        prog.len = static_cast<unsigned short>(program_.size());
        prog.filter = program_.data();
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, kernel_flags_, &prog) != 0)
            return sys_error("load seccomp filter");
        return -1;
    }
    if (!ctx_) return fail("seccomp: no filter");
    if (int rc = seccomp_load(ctx_); rc < 0) return sys_error(-rc, "load seccomp filter");
    if (!has_notify_) return -1;
    // The kernel handed libseccomp a listener fd at load time; the caller now owns it.
    int fd = seccomp_notify_fd(ctx_);
    if (fd < 0) return sys_error(-fd, "get seccomp notify fd");
    return fd;
}

namespace {

Result<SeccompFilter> build_with_libseccomp(const Seccomp& seccomp) {
    SKIFF_TRY(default_action,
              parse_action(seccomp.default_action, seccomp.default_errno_ret,
                           "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet"));
    // Every syscall would wait on a listener that cannot exist yet (runc refuses it too).
    if (default_action == SCMP_ACT_NOTIFY)
        return fail("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");

    Context ctx(seccomp_init(default_action));
    if (!ctx.get()) return fail("seccomp_init: cannot create filter");

    for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
        const std::string& name = seccomp.architectures[i];
        uint32_t arch = resolve_arch(name);
        if (arch == 0)
            return fail(indexed("linux.seccomp.architectures", i) + ": unknown architecture " +
                        in_quotes(name));
        int rc = seccomp_arch_add(ctx.get(), arch);
        // EEXIST: the native architecture is already in a new filter.
        if (rc == -EEXIST) continue;
        // libseccomp keeps one byte order per filter (runc fails here too).
        if (rc == -EDOM)
            return fail(indexed("linux.seccomp.architectures", i) + ": " + name +
                        " cannot share a filter with the native architecture (byte order "
                        "differs)");
        if (rc < 0)
            return sys_error(-rc, indexed("linux.seccomp.architectures", i) + ": add " + name);
    }

    // The runtime sets no_new_privs itself when the spec asks for it; seccomp_load must not.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
        return sys_error(-rc, "seccomp: clear the no_new_privs attribute");

    for (size_t i = 0; i < seccomp.flags.size(); ++i) {
        const std::string& name = seccomp.flags[i];
        const FlagAttr* flag = nullptr;
        for (const auto& f : kFlags) {
            if (f.name == name) flag = &f;
        }
        if (!flag)
            return fail(indexed("linux.seccomp.flags", i) + ": unknown flag " + in_quotes(name));
        if (int rc = seccomp_attr_set(ctx.get(), flag->attr, 1); rc < 0)
            return sys_error(-rc, indexed("linux.seccomp.flags", i) + ": set " + name);
    }

    // Report the kernel's own errno from seccomp_load instead of libseccomp's generic one.
    (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_API_SYSRAWRC, 1);

    bool has_notify = false;
    size_t rules = 0;
    for (size_t i = 0; i < seccomp.syscalls.size(); ++i)
        SKIFF_CHECK(add_syscall_rules(ctx.get(), seccomp.syscalls[i], i, default_action,
                                      has_notify, rules));

    // Binary-tree dispatch for long rule lists (runc's threshold). Counted after adding
    // because libseccomp <= 2.5.4 misbehaves with the tree and zero rules. Older libseccomp
    // lacks the attribute; the filter is merely slower then, so a failure is ignored.
    if (rules > 32) (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

    SeccompFilter filter(ctx.release());
    filter.set_has_notify(has_notify);
    return filter;
}

// Everything that decides the program, in one string to hash (appended in place: it is
// built at every container start, ~350 names for Docker's profile).
std::string cache_key(const Seccomp& seccomp) {
    std::string k;
    k.reserve(8192);
    auto add = [&k](std::string_view part, char separator) {
        k.append(part);
        k.push_back(separator);
    };
    auto add_number = [&add](uint64_t n, char separator) { add(std::to_string(n), separator); };
    add("v2", '|');
    add(seccomp.default_action, '|');
    if (seccomp.default_errno_ret) add_number(*seccomp.default_errno_ret, '|');
    else add("-", '|');
    for (const auto& a : seccomp.architectures) add(a, ',');
    k.push_back('|');
    for (const auto& f : seccomp.flags) add(f, ',');
    for (const auto& sc : seccomp.syscalls) {
        k.push_back('|');
        for (const auto& n : sc.names) add(n, ',');
        k.push_back(';');
        add(sc.action, ';');
        if (sc.errno_ret) add_number(*sc.errno_ret, ';');
        else add("-", ';');
        for (const auto& arg : sc.args) {
            add_number(arg.index, ':');
            add_number(arg.value, ':');
            add_number(arg.value_two, ':');
            add(arg.op, ';');
        }
    }
    const scmp_version* v = seccomp_version();
    k += "|libseccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
    k += "|native " + std::to_string(seccomp_arch_native());
    return k;
}

unsigned kernel_flags(const Seccomp& seccomp) {
    unsigned flags = 0;
    for (const auto& f : seccomp.flags) {
        if (f == "SECCOMP_FILTER_FLAG_TSYNC") flags |= SECCOMP_FILTER_FLAG_TSYNC;
        if (f == "SECCOMP_FILTER_FLAG_LOG") flags |= SECCOMP_FILTER_FLAG_LOG;
        if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    }
    return flags;
}

Result<std::vector<struct sock_filter>> export_program(const SeccompFilter& filter) {
    UniqueFd fd(::memfd_create("skiff-seccomp-bpf", MFD_CLOEXEC));
    if (!fd) return sys_error("memfd_create");
    if (int rc = seccomp_export_bpf(filter.ctx(), fd.get()); rc < 0) return sys_error(-rc, "seccomp_export_bpf");
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(struct sock_filter)) != 0) return fail("seccomp_export_bpf: bad size");
    std::vector<struct sock_filter> program(static_cast<size_t>(size) / sizeof(struct sock_filter));
    if (::pread(fd.get(), program.data(), static_cast<size_t>(size), 0) != size) return sys_error("read seccomp bpf");
    return program;
}

}  // namespace

Result<SeccompFilter> build_seccomp_filter(const Seccomp& seccomp, const std::string& cache_dir) {
    bool notify = !seccomp.listener_path.empty() || seccomp.default_action == "SCMP_ACT_NOTIFY";
    for (const auto& sc : seccomp.syscalls) notify = notify || sc.action == "SCMP_ACT_NOTIFY";
    if (cache_dir.empty() || notify) return build_with_libseccomp(seccomp);

    std::string path = cache_dir + "/" + sha256_digest(cache_key(seccomp)).substr(7) + ".bpf";
    if (auto cached = read_file_limited(path, 1u << 20);
        cached && !cached->empty() && cached->size() % sizeof(struct sock_filter) == 0) {
        std::vector<struct sock_filter> program(cached->size() / sizeof(struct sock_filter));
        std::memcpy(program.data(), cached->data(), cached->size());
        SeccompFilter filter;
        filter.set_program(std::move(program), kernel_flags(seccomp));
        return filter;
    }
    SKIFF_TRY(filter, build_with_libseccomp(seccomp));
    SKIFF_TRY(program, export_program(filter));
    // The cache is an optimisation: a failure to write it is no failure of the container.
    if (mkdir_p(cache_dir, 0700))
        (void)write_file_atomic(path, std::string(reinterpret_cast<const char*>(program.data()),
                                                  program.size() * sizeof(struct sock_filter)), 0600);
    filter.set_program(std::move(program), kernel_flags(seccomp));
    return filter;
}

Status validate_seccomp(const Seccomp& seccomp) {
    SKIFF_TRY(filter, build_seccomp_filter(seccomp));
    (void)filter;
    return ok();
}

std::vector<std::string> seccomp_known_actions() {
    return {"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
            "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};
}

std::vector<std::string> seccomp_known_operators() {
    std::vector<std::string> out;
    for (const auto& o : kOperators) out.emplace_back(o.name);
    return out;
}

std::vector<std::string> seccomp_known_architectures() {
    std::vector<std::string> out;
    for (auto name : kOciArchitectures) {
        if (resolve_arch(name) != 0) out.emplace_back(name);
    }
    return out;
}

std::vector<std::string> seccomp_known_flags() {
    std::vector<std::string> out;
    for (const auto& f : kFlags) out.emplace_back(f.name);
    return out;
}

}  // namespace skiff::runtime
