// image/reference: the cases of Docker's distribution/reference tables (reference_test.go,
// normalize_test.go), checked against the same normalised results and error kinds.
#include <catch2/catch.hpp>
#include <string>

#include "image/reference.hpp"

using namespace skiff;
using namespace skiff::image;

namespace {
const std::string kHex64 = std::string(64, 'f');
const std::string kDigest = "sha256:" + kHex64;

Reference parsed(const std::string& text) {
    auto ref = parse_reference(text);
    INFO(text << ": " << (ref ? "" : ref.error().message()));
    REQUIRE(ref.has_value());
    return *ref;
}

std::string error_of(const std::string& text) {
    auto ref = parse_reference(text);
    INFO(text);
    REQUIRE_FALSE(ref.has_value());
    return ref.error().message();
}
}  // namespace

TEST_CASE("reference: short names normalise to docker.io", "[image][reference]") {
    auto busybox = parsed("busybox");
    CHECK(busybox.registry == "docker.io");
    CHECK(busybox.repository == "library/busybox");
    CHECK(busybox.tag == "latest");
    CHECK(busybox.digest.empty());
    CHECK(busybox.to_string() == "docker.io/library/busybox:latest");
    CHECK(busybox.familiar() == "busybox:latest");

    auto app = parsed("user/app:1");
    CHECK(app.to_string() == "docker.io/user/app:1");
    CHECK(app.familiar() == "user/app:1");
    CHECK(parsed("user/app").to_string() == "docker.io/user/app:latest");

    for (const char* same : {"ubuntu", "library/ubuntu", "docker.io/ubuntu", "docker.io/library/ubuntu",
                             "index.docker.io/ubuntu", "index.docker.io/library/ubuntu:latest"}) {
        INFO(same);
        CHECK(parsed(same).to_string() == "docker.io/library/ubuntu:latest");
        CHECK(parsed(same).familiar() == "ubuntu:latest");
    }
    // Only a single-component name gets library/; deeper ones keep their path.
    CHECK(parsed("docker.io/library/foo/bar").familiar() == "library/foo/bar:latest");
    CHECK(parsed("docker.io/foo/bar/baz:t").to_string() == "docker.io/foo/bar/baz:t");
}

TEST_CASE("reference: registries are recognised by '.', ':' or localhost", "[image][reference]") {
    struct Case { const char* text; const char* registry; const char* repository; const char* tag; };
    const Case cases[] = {
        {"localhost/a", "localhost", "a", "latest"},
        {"localhost:5000/a", "localhost:5000", "a", "latest"},
        {"127.0.0.1:5000/a:1", "127.0.0.1:5000", "a", "1"},
        {"quay.io/x/y", "quay.io", "x/y", "latest"},
        {"test.com/repo:tag", "test.com", "repo", "tag"},
        {"test:5000/repo", "test:5000", "repo", "latest"},
        {"test:5000/repo:tag", "test:5000", "repo", "tag"},
        {"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest"},
        {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag"},
        {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com"},
        {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com"},
        {"192.168.1.1/repo", "192.168.1.1", "repo", "latest"},
        {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050"},
        {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest"},
        {"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"},
        {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag"},
        {"[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest"},
        {"[::1]:5000/repo", "[::1]:5000", "repo", "latest"},
        {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080"},
        {"Uppercase/lowercase:tag", "Uppercase", "lowercase", "tag"},  // an uppercase first part is a host
    };
    for (const Case& c : cases) {
        INFO(c.text);
        auto ref = parsed(c.text);
        CHECK(ref.registry == c.registry);
        CHECK(ref.repository == c.repository);
        CHECK(ref.tag == c.tag);
    }
    CHECK(parsed("quay.io/x/y:1").familiar() == "quay.io/x/y:1");
}

TEST_CASE("reference: a first part without '.' or ':' is a Docker Hub name", "[image][reference]") {
    // "test.com:5000" has no '/', so 5000 is a tag of docker.io/library/test.com.
    auto ref = parsed("test.com:5000");
    CHECK(ref.to_string() == "docker.io/library/test.com:5000");
    CHECK(parsed("test_com").repository == "library/test_com");
    CHECK(parsed("foo_bar.com:8080").to_string() == "docker.io/library/foo_bar.com:8080");
    CHECK(parsed("192.168.1.1:5000").to_string() == "docker.io/library/192.168.1.1:5000");
    CHECK(parsed("localhost").to_string() == "docker.io/library/localhost:latest");
    CHECK(parsed("lowercase:Uppercase").tag == "Uppercase");  // tags may be uppercase
    CHECK(parsed("x/a__b_c-d---e.f").repository == "x/a__b_c-d---e.f");
    // A '.' makes the first part a host, and hosts allow no '_'.
    CHECK_FALSE(parse_reference("a_b.c/f").has_value());
}

TEST_CASE("reference: digests", "[image][reference]") {
    auto by_digest = parsed("test:5000/repo@" + kDigest);
    CHECK(by_digest.digest == kDigest);
    CHECK(by_digest.tag.empty());
    CHECK(by_digest.pull_ref() == kDigest);
    CHECK(by_digest.to_string() == "test:5000/repo@" + kDigest);

    auto both = parsed("test:5000/repo:tag@" + kDigest);
    CHECK(both.tag == "tag");
    CHECK(both.digest == kDigest);
    CHECK(both.pull_ref() == kDigest);  // the digest wins
    CHECK(both.to_string() == "test:5000/repo:tag@" + kDigest);

    auto hub = parsed("busybox@" + kDigest);
    CHECK(hub.to_string() == "docker.io/library/busybox@" + kDigest);
    CHECK(hub.familiar() == "busybox@" + kDigest);
    CHECK(parsed("busybox:1.36").pull_ref() == "1.36");

    CHECK(parsed("xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + std::string(128, 'f')).digest.starts_with("sha512:"));
}

TEST_CASE("reference: invalid references name what is wrong", "[image][reference]") {
    const std::string format = "invalid reference format";
    CHECK(error_of("") == format + ": repository name must have at least one component");
    CHECK(error_of("Uppercase:tag") == format + ": repository name must be lowercase");
    CHECK(error_of("Busybox") == format + ": repository name must be lowercase");
    CHECK(error_of("test:5000/Uppercase/lowercase:tag") == format + ": repository name must be lowercase");
    CHECK(error_of(std::string(256, 'a')) == format + ": repository name must not be more than 255 characters");
    CHECK(error_of("a/" + std::string(250, 'a')) == format + ": repository name must not be more than 255 characters");
    CHECK(error_of(kHex64).starts_with(format + ": repository name cannot be a 64-byte hexadecimal"));
    CHECK(error_of("repo@sha256:ffffffffffffffffffffffffffffffffff") == format + ": invalid checksum digest length");
    CHECK(error_of("validname@invaliddigest:" + kHex64) == format + ": unsupported digest algorithm \"invaliddigest\"");
    CHECK(error_of("repo@sha256:" + std::string(64, 'F')) == format + ": invalid checksum digest format");

    for (const std::string& bad : {
             std::string(":justtag"), "@" + kDigest, std::string("aa/asdf$$^/aa"), std::string("[2001:db8::1]"),
             std::string("[2001:db8::1]:tag"), std::string("[fe80::1%eth0]:5000/repo"), std::string("a//b"),
             std::string("a/"), std::string("/a"), std::string("-a"), std::string("a-"), std::string("a..b"),
             std::string("a.-b"), std::string("a___b"), std::string("a:b:c"), std::string("repo:"),
             std::string("repo@"), std::string("repo@sha256"), std::string("repo:-tag"),
             "repo:" + std::string(129, 't'), std::string("-host.com/a"), std::string("host.com:/a"),
             std::string("host.com:port/a"), std::string("repo@sha256:" + std::string(31, 'f'))}) {
        CHECK(error_of(bad).starts_with(format));
    }
    CHECK(parse_reference("repo:" + std::string(128, 't')).has_value());
}
