#include "state/names.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <ctime>

namespace skiff::state {

namespace {

constexpr std::array<std::string_view, 64> kAdjectives = {
    "admiring",  "affectionate", "agitated",   "amazing",     "angry",     "awesome",
    "blissful",  "bold",         "boring",     "brave",       "busy",      "charming",
    "clever",    "compassionate", "competent", "confident",   "cool",      "dazzling",
    "determined", "distracted",  "dreamy",     "eager",       "ecstatic",  "elastic",
    "elated",    "elegant",      "eloquent",   "epic",        "fervent",   "festive",
    "focused",   "friendly",     "frosty",     "funny",       "gallant",   "gifted",
    "goofy",     "gracious",     "happy",      "hopeful",     "hungry",    "inspiring",
    "intelligent", "jolly",      "jovial",     "keen",        "kind",      "laughing",
    "loving",    "lucid",        "modest",     "musing",      "nifty",     "nostalgic",
    "objective", "optimistic",   "peaceful",   "pensive",     "quirky",    "relaxed",
    "serene",    "sharp",        "tender",     "vigilant",
};

constexpr std::array<std::string_view, 64> kSurnames = {
    "agnesi",    "babbage",   "bardeen",    "bell",       "bohr",       "boole",
    "cannon",    "carson",    "cerf",       "curie",      "darwin",     "dijkstra",
    "einstein",  "euler",     "faraday",    "fermi",      "feynman",    "franklin",
    "galileo",   "gauss",     "goldwasser", "goodall",    "hamilton",   "hawking",
    "heisenberg", "hodgkin",  "hopper",     "hypatia",    "jackson",    "johnson",
    "kepler",    "knuth",     "kowalevski", "lamarr",     "lamport",    "liskov",
    "lovelace",  "maxwell",   "meitner",    "mendel",     "mirzakhani", "newton",
    "noether",   "pasteur",   "perlman",    "pike",       "planck",     "raman",
    "ritchie",   "shannon",   "shockley",   "sinoussi",   "tesla",      "thompson",
    "torvalds",  "turing",    "varahamihira", "volhard",  "wiles",      "wilson",
    "wozniak",   "wright",    "yalow",      "zuse",
};

uint32_t random_u32() {
    uint32_t value = 0;
    ssize_t n;
    do {
        n = ::getrandom(&value, sizeof value, 0);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof value)) {
        // Names need variety, not secrecy.
        struct timespec ts;
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        value = static_cast<uint32_t>(ts.tv_nsec) ^ static_cast<uint32_t>(::getpid() << 16);
    }
    return value;
}

bool name_char(char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

}  // namespace

bool valid_name(std::string_view name) {
    if (name.starts_with('/')) name.remove_prefix(1);
    if (name.size() < 2) return false;
    for (size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0)) return false;
    return true;
}

std::string random_name() {
    for (;;) {
        auto adjective = kAdjectives[random_u32() % kAdjectives.size()];
        auto surname = kSurnames[random_u32() % kSurnames.size()];
        if (adjective == "boring" && surname == "wozniak") continue;
        std::string name(adjective);
        name += '_';
        name += surname;
        return name;
    }
}

}  // namespace skiff::state
