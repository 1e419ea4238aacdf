#include "common/result.hpp"

#include <cstring>

namespace skiff {

std::string Error::message() const {
    if (code == 0) return what;
    return what + ": " + std::strerror(code);
}

Error Error::context(const std::string& outer) const& {
    return Error{code, outer + ": " + what};
}

Error Error::context(const std::string& outer) && {
    what = outer + ": " + what;
    return std::move(*this);
}

}  // namespace skiff
