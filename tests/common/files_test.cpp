#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>

#include "saslguard/common/files.hpp"
#include "test_support.hpp"

using namespace saslguard;

TEST_CASE("write_atomic replaces a file whole and read_all reads it back") {
    saslguard::test::TempDir tmp;
    const std::string dir = tmp.root();
    auto path = dir + "/map";
    REQUIRE(files::write_atomic(path, "one\n").ok());
    REQUIRE(files::write_atomic(path, "two\n", 0600).ok());
    auto r = files::read_all(path);
    REQUIRE(r.ok());
    CHECK(*r == "two\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(::access((path + ".tmp." + std::to_string(getpid())).c_str(), F_OK) != 0);
}

TEST_CASE("write_atomic into a missing directory fails and says where") {
    auto r = files::write_atomic("/nonexistent-saslguard/x", "data");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("/nonexistent-saslguard") != std::string::npos);
}

TEST_CASE("read_secret takes the first line trimmed and refuses an empty secret") {
    saslguard::test::TempDir tmp;
    const std::string dir = tmp.root();
    REQUIRE(files::write_atomic(dir + "/tok", "  s3cret-token \r\nsecond line\n").ok());
    auto s = files::read_secret(dir + "/tok");
    REQUIRE(s.ok());
    CHECK(*s == "s3cret-token");
    REQUIRE(files::write_atomic(dir + "/empty", "\n").ok());
    CHECK_FALSE(files::read_secret(dir + "/empty").ok());
    CHECK_FALSE(files::read_secret(dir + "/missing").ok());
}

TEST_CASE("read_all refuses a file larger than its limit") {
    saslguard::test::TempDir tmp;
    const std::string dir = tmp.root();
    REQUIRE(files::write_atomic(dir + "/big", std::string(5000, 'x')).ok());
    CHECK_FALSE(files::read_all(dir + "/big", 4000).ok());
}

TEST_CASE("write_atomic never writes through a temporary name someone created first") {
    test::TempDir tmp;
    const std::string path = tmp.path("map");
    // What a local user who can write the directory would plant: the temp name
    // a predictable writer would open (it would then own the live file).
    const std::string planted = tmp.write("map.tmp." + std::to_string(::getpid()), "planted\n");
    struct stat before {};
    REQUIRE(::stat(planted.c_str(), &before) == 0);
    REQUIRE(files::write_atomic(path, "new\n", 0600).ok());
    struct stat after {};
    REQUIRE(::stat(path.c_str(), &after) == 0);
    CHECK(after.st_ino != before.st_ino);
    CHECK((after.st_mode & 07777) == 0600);
    CHECK(*files::read_all(path) == "new\n");
    CHECK(*files::read_all(planted) == "planted\n");
}

TEST_CASE("write_atomic refuses a symlink in place of the file and a directory others may write") {
    test::TempDir tmp;
    const std::string victim = tmp.write("victim", "secret\n");
    const std::string link = tmp.path("link");
    REQUIRE(::symlink(victim.c_str(), link.c_str()) == 0);
    auto r = files::write_atomic(link, "x\n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "refusing to write " + link + ": it is a symbolic link");
    CHECK(*files::read_all(victim) == "secret\n");

    const std::string shared = tmp.path("shared");
    REQUIRE(::mkdir(shared.c_str(), 0700) == 0);
    REQUIRE(::chmod(shared.c_str(), 0775) == 0);
    auto g = files::write_atomic(shared + "/f", "x\n");
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().message == "refusing to write " + shared +
                                   "/f: its directory is writable by group or others (mode 0775)");
    struct stat st {};
    CHECK(::stat((shared + "/f").c_str(), &st) != 0);
}
