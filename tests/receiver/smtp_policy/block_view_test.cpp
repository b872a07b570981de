#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "saslguard/receiver/smtp_policy/block_view.hpp"

using namespace saslguard::receiver::smtp_policy;

TEST_CASE("logins are canonical in lowercase ASCII, nothing else changes") {
    CHECK(canonical_login("Alice@Example.COM") == "alice@example.com");
    CHECK(canonical_login("bob") == "bob");
    CHECK(canonical_login("BOB@realm") == "bob@realm");
    // Non-ASCII bytes are left as they are (Postfix folds ASCII only without SMTPUTF8).
    CHECK(canonical_login("J\xc3\x96RG") == "j\xc3\x96rg");
}

TEST_CASE("a block set answers for canonical logins and IPs") {
    BlockSet set;
    CHECK_FALSE(set.login_blocked("alice@example.com"));
    CHECK(set.block_login("Alice@Example.com"));
    CHECK_FALSE(set.block_login("alice@example.com"));  // already there
    CHECK(set.login_blocked("alice@example.com"));
    CHECK_FALSE(set.login_blocked("Alice@Example.com"));  // callers pass the canonical form
    CHECK(set.block_client("2001:0DB8::0001"));
    CHECK(set.client_blocked("2001:db8::1"));
    CHECK_FALSE(set.block_client("not-an-ip"));
    CHECK_FALSE(set.block_client("192.0.2.1; rm -rf /"));
    CHECK(set.login_count() == 1);
    CHECK(set.client_count() == 1);
    CHECK(set.unblock_login("ALICE@EXAMPLE.COM"));
    CHECK_FALSE(set.login_blocked("alice@example.com"));
    CHECK(set.unblock_client("2001:db8:0::1"));
    CHECK_FALSE(set.unblock_client("2001:db8::1"));
    CHECK(set.client_count() == 0);
}

TEST_CASE("replace swaps everything at once and counts invalid addresses") {
    BlockSet set;
    set.block_login("old");
    CHECK(set.replace({"A", "b", ""}, {"192.0.2.1", "bogus", "::1"}) == 1);
    CHECK_FALSE(set.login_blocked("old"));
    CHECK(set.login_blocked("a"));
    CHECK(set.login_blocked("b"));
    CHECK(set.login_count() == 2);
    CHECK(set.client_blocked("192.0.2.1"));
    CHECK(set.client_blocked("::1"));
    CHECK(set.client_count() == 2);
}

TEST_CASE("readers see a consistent set while a writer changes it") {
    BlockSet set;
    set.block_login("always");
    std::atomic<bool> stop{false};
    std::atomic<long> lookups{0};
    std::atomic<bool> lost{false};
    std::thread reader([&] {
        while (!stop) {
            if (!set.login_blocked("always")) lost = true;
            (void)set.login_blocked("toggled");
            ++lookups;
        }
    });
    // Until the reader has really run alongside (it may start late).
    for (int i = 0; i < 2000 || lookups < 1000; ++i) {
        set.block_login("toggled");
        set.unblock_login("toggled");
    }
    stop = true;
    reader.join();
    CHECK_FALSE(lost);
    CHECK(lookups > 0);
}
