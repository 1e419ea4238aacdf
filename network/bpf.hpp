// The few bpf(2) calls network/ needs, and a small assembler for the two programs of
// loopback_redirect.cpp. No libbpf and no clang: the programs are a few dozen instructions,
// and maps without BTF are all they use. Internal to network/.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::network::bpf {

// ---- assembling ------------------------------------------------------------------------

enum Reg : uint8_t { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };
inline constexpr Reg FP = R10;  // frame pointer: the 512-byte stack is below it

// Appends instructions; jumps name a label, resolved by finish(). Sizes are BPF_W/BPF_DW.
class Assembler {
public:
    void mov(Reg dst, Reg src);
    void mov(Reg dst, int32_t imm);
    void add(Reg dst, int32_t imm);
    void and_(Reg dst, int32_t imm);
    void load(uint8_t size, Reg dst, Reg base, int16_t off);    // dst = *(size*)(base + off)
    void store(uint8_t size, Reg base, int16_t off, Reg src);   // *(size*)(base + off) = src
    void store(uint8_t size, Reg base, int16_t off, int32_t imm);
    void load_map(Reg dst, int map_fd);                         // dst = the map (two slots)
    void jump_if(uint8_t op, Reg dst, int32_t imm, std::string label);  // op: BPF_JEQ, BPF_JNE
    void jump_if(uint8_t op, Reg dst, Reg src, std::string label);
    void call(int32_t helper);
    // r0 = bpf_map_lookup_elem(map, fp + key_offset): the value, or 0 when missing.
    void lookup(int map_fd, int16_t key_offset);
    void exit();
    void label(std::string name);
    // The program, or an error naming a label that was jumped to and never placed.
    Result<std::vector<bpf_insn>> finish() const;

private:
    void emit(uint8_t code, Reg dst, Reg src, int16_t off, int32_t imm);
    std::vector<bpf_insn> code_;
    std::vector<std::pair<size_t, std::string>> jumps_;  // instruction index -> target
    std::map<std::string, size_t> labels_;
};

// ---- objects ---------------------------------------------------------------------------

Result<UniqueFd> create_map(bpf_map_type type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                            uint32_t flags, std::string_view name);
// Load a BPF_PROG_TYPE_CGROUP_SOCK_ADDR program for `attach_type`. The error carries the
// verifier's log.
Result<UniqueFd> load_sock_addr_program(const std::vector<bpf_insn>& program, bpf_attach_type attach_type,
                                        std::string_view name);

Status map_update(int map_fd, const void* key, const void* value);
Status map_delete(int map_fd, const void* key);  // a missing key is not an error
// True with `value` filled, false when the key is missing.
Result<bool> map_lookup(int map_fd, const void* key, void* value);
// Every key of a map with keys of `key_size` bytes.
Result<std::vector<std::vector<uint8_t>>> map_keys(int map_fd, uint32_t key_size);

// Attached with BPF_F_ALLOW_MULTI, so other programs on the same cgroup keep running.
Status attach(int cgroup_fd, int program_fd, bpf_attach_type type);
Status detach(int cgroup_fd, int program_fd, bpf_attach_type type);
// Ids of the programs attached to this cgroup itself for `type`.
Result<std::vector<uint32_t>> attached_programs(int cgroup_fd, bpf_attach_type type);

struct ProgramInfo {
    std::string name;
    std::vector<uint32_t> map_ids;
};
// Both by id; the fd keeps the object alive. An object gone meanwhile gives ENOENT.
Result<UniqueFd> program_by_id(uint32_t id);
Result<ProgramInfo> program_info(int program_fd);
Result<UniqueFd> map_by_id(uint32_t id);
Result<std::string> map_name(int map_fd);

}  // namespace skiff::network::bpf
