// bpf(2) wrappers and the instruction assembler (bpf.hpp).
#include "network/bpf.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace skiff::network::bpf {

namespace {

long sys_bpf(int command, bpf_attr& attr) { return ::syscall(SYS_bpf, command, &attr, sizeof attr); }

uint64_t pointer(const void* p) { return reinterpret_cast<uint64_t>(p); }

void copy_name(char (&out)[BPF_OBJ_NAME_LEN], std::string_view name) {
    std::memset(out, 0, sizeof out);
    std::memcpy(out, name.data(), std::min(name.size(), sizeof out - 1));
}

}  // namespace

// ---- assembling ------------------------------------------------------------------------

void Assembler::emit(uint8_t code, Reg dst, Reg src, int16_t off, int32_t imm) {
    bpf_insn insn{};
    insn.code = code;
    insn.dst_reg = dst;
    insn.src_reg = src;
    insn.off = off;
    insn.imm = imm;
    code_.push_back(insn);
}

void Assembler::mov(Reg dst, Reg src) { emit(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
void Assembler::mov(Reg dst, int32_t imm) { emit(BPF_ALU64 | BPF_MOV | BPF_K, dst, R0, 0, imm); }
void Assembler::add(Reg dst, int32_t imm) { emit(BPF_ALU64 | BPF_ADD | BPF_K, dst, R0, 0, imm); }
void Assembler::and_(Reg dst, int32_t imm) { emit(BPF_ALU64 | BPF_AND | BPF_K, dst, R0, 0, imm); }
void Assembler::load(uint8_t size, Reg dst, Reg base, int16_t off) {
    emit(BPF_LDX | size | BPF_MEM, dst, base, off, 0);
}
void Assembler::store(uint8_t size, Reg base, int16_t off, Reg src) {
    emit(BPF_STX | size | BPF_MEM, base, src, off, 0);
}
void Assembler::store(uint8_t size, Reg base, int16_t off, int32_t imm) {
    emit(BPF_ST | size | BPF_MEM, base, R0, off, imm);
}
void Assembler::load_map(Reg dst, int map_fd) {
    emit(BPF_LD | BPF_DW | BPF_IMM, dst, static_cast<Reg>(BPF_PSEUDO_MAP_FD), 0, map_fd);
    emit(0, R0, R0, 0, 0);  // the upper half of the 64-bit immediate
}
void Assembler::jump_if(uint8_t op, Reg dst, int32_t imm, std::string label) {
    jumps_.emplace_back(code_.size(), std::move(label));
    emit(BPF_JMP | op | BPF_K, dst, R0, 0, imm);
}
void Assembler::jump_if(uint8_t op, Reg dst, Reg src, std::string label) {
    jumps_.emplace_back(code_.size(), std::move(label));
    emit(BPF_JMP | op | BPF_X, dst, src, 0, 0);
}
void Assembler::call(int32_t helper) { emit(BPF_JMP | BPF_CALL, R0, R0, 0, helper); }
void Assembler::lookup(int map_fd, int16_t key_offset) {
    load_map(R1, map_fd);
    mov(R2, FP);
    add(R2, key_offset);
    call(BPF_FUNC_map_lookup_elem);
}
void Assembler::exit() { emit(BPF_JMP | BPF_EXIT, R0, R0, 0, 0); }
void Assembler::label(std::string name) { labels_[std::move(name)] = code_.size(); }

Result<std::vector<bpf_insn>> Assembler::finish() const {
    std::vector<bpf_insn> out = code_;
    for (const auto& [at, name] : jumps_) {
        auto target = labels_.find(name);
        if (target == labels_.end()) return fail("bpf: jump to label " + name + ", which is nowhere");
        // Offsets count from the instruction after the jump.
        out[at].off = static_cast<int16_t>(static_cast<long>(target->second) - static_cast<long>(at) - 1);
    }
    return out;
}

// ---- objects ---------------------------------------------------------------------------

Result<UniqueFd> create_map(bpf_map_type type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                            uint32_t flags, std::string_view name) {
    bpf_attr attr{};
    attr.map_type = type;
    attr.key_size = key_size;
    attr.value_size = value_size;
    attr.max_entries = max_entries;
    attr.map_flags = flags;
    copy_name(attr.map_name, name);
    long fd = sys_bpf(BPF_MAP_CREATE, attr);
    if (fd < 0) return sys_error("bpf: create map " + std::string(name));
    return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> load_sock_addr_program(const std::vector<bpf_insn>& program, bpf_attach_type attach_type,
                                        std::string_view name) {
    // No GPL-only helper is called; the string only has to be one the kernel accepts.
    static const char license[] = "Dual MIT/GPL";
    std::string log(16384, '\0');
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
    attr.expected_attach_type = attach_type;
    attr.insns = pointer(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = pointer(license);
    attr.log_buf = pointer(log.data());
    attr.log_size = static_cast<uint32_t>(log.size());
    attr.log_level = 1;
    copy_name(attr.prog_name, name);
    long fd = sys_bpf(BPF_PROG_LOAD, attr);
    if (fd < 0) {
        int saved = errno;
        log.resize(std::strlen(log.c_str()));
        // The verifier's last lines say what it refused.
        while (!log.empty() && log.back() == '\n') log.pop_back();
        auto cut = log.rfind('\n', log.size() > 400 ? log.size() - 400 : 0);
        std::string tail = log.empty() ? "" : ": " + log.substr(cut == std::string::npos ? 0 : cut + 1);
        std::replace(tail.begin(), tail.end(), '\n', ' ');
        return sys_error(saved, "bpf: load program " + std::string(name) + tail);
    }
    return UniqueFd(static_cast<int>(fd));
}

Status map_update(int map_fd, const void* key, const void* value) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_fd);
    attr.key = pointer(key);
    attr.value = pointer(value);
    attr.flags = BPF_ANY;
    if (sys_bpf(BPF_MAP_UPDATE_ELEM, attr) < 0) return sys_error("bpf: update map");
    return ok();
}

Status map_delete(int map_fd, const void* key) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_fd);
    attr.key = pointer(key);
    if (sys_bpf(BPF_MAP_DELETE_ELEM, attr) < 0 && errno != ENOENT) return sys_error("bpf: delete from map");
    return ok();
}

Result<bool> map_lookup(int map_fd, const void* key, void* value) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(map_fd);
    attr.key = pointer(key);
    attr.value = pointer(value);
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, attr) < 0) {
        if (errno == ENOENT) return false;
        return sys_error("bpf: look up in map");
    }
    return true;
}

Result<std::vector<std::vector<uint8_t>>> map_keys(int map_fd, uint32_t key_size) {
    std::vector<std::vector<uint8_t>> keys;
    std::vector<uint8_t> next(key_size);
    const std::vector<uint8_t>* previous = nullptr;  // none: start at the first key
    while (true) {
        bpf_attr attr{};
        attr.map_fd = static_cast<uint32_t>(map_fd);
        attr.key = previous ? pointer(previous->data()) : 0;
        attr.next_key = pointer(next.data());
        if (sys_bpf(BPF_MAP_GET_NEXT_KEY, attr) < 0) {
            if (errno == ENOENT) return keys;
            return sys_error("bpf: list map keys");
        }
        keys.push_back(next);
        previous = &keys.back();
    }
}

Status attach(int cgroup_fd, int program_fd, bpf_attach_type type) {
    bpf_attr attr{};
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(program_fd);
    attr.attach_type = type;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, attr) < 0) return sys_error("bpf: attach program to cgroup");
    return ok();
}

Status detach(int cgroup_fd, int program_fd, bpf_attach_type type) {
    bpf_attr attr{};
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(program_fd);
    attr.attach_type = type;
    if (sys_bpf(BPF_PROG_DETACH, attr) < 0 && errno != ENOENT) return sys_error("bpf: detach program from cgroup");
    return ok();
}

Result<std::vector<uint32_t>> attached_programs(int cgroup_fd, bpf_attach_type type) {
    std::vector<uint32_t> ids(64);
    while (true) {
        bpf_attr attr{};
        attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
        attr.query.attach_type = type;
        attr.query.prog_ids = pointer(ids.data());
        attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
        if (sys_bpf(BPF_PROG_QUERY, attr) == 0) {
            ids.resize(attr.query.prog_cnt);
            return ids;
        }
        if (errno != ENOSPC) return sys_error("bpf: list the programs on a cgroup");
        ids.resize(attr.query.prog_cnt);  // the kernel said how many there are
    }
}

Result<UniqueFd> program_by_id(uint32_t id) {
    bpf_attr attr{};
    attr.prog_id = id;
    long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, attr);
    if (fd < 0) return sys_error("bpf: open program " + std::to_string(id));
    return UniqueFd(static_cast<int>(fd));
}

Result<ProgramInfo> program_info(int program_fd) {
    std::vector<uint32_t> map_ids(16);
    bpf_prog_info info{};
    info.nr_map_ids = static_cast<uint32_t>(map_ids.size());
    info.map_ids = pointer(map_ids.data());
    bpf_attr attr{};
    attr.info.bpf_fd = static_cast<uint32_t>(program_fd);
    attr.info.info_len = sizeof info;
    attr.info.info = pointer(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, attr) < 0) return sys_error("bpf: describe program");
    map_ids.resize(std::min<size_t>(info.nr_map_ids, map_ids.size()));
    return ProgramInfo{std::string(info.name, strnlen(info.name, sizeof info.name)), map_ids};
}

Result<UniqueFd> map_by_id(uint32_t id) {
    bpf_attr attr{};
    attr.map_id = id;
    long fd = sys_bpf(BPF_MAP_GET_FD_BY_ID, attr);
    if (fd < 0) return sys_error("bpf: open map " + std::to_string(id));
    return UniqueFd(static_cast<int>(fd));
}

Result<std::string> map_name(int map_fd) {
    bpf_map_info info{};
    bpf_attr attr{};
    attr.info.bpf_fd = static_cast<uint32_t>(map_fd);
    attr.info.info_len = sizeof info;
    attr.info.info = pointer(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, attr) < 0) return sys_error("bpf: describe map");
    return std::string(info.name, strnlen(info.name, sizeof info.name));
}

}  // namespace skiff::network::bpf
