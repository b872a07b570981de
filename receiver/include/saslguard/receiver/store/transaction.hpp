#pragma once
// A transaction of a store Session (state_store.hpp): begun IMMEDIATE (the
// write lock is taken up front), rolled back when destroyed uncommitted.
#include "saslguard/common/result.hpp"

namespace saslguard::receiver::store {

class Transaction {
public:
    virtual ~Transaction() = default;  // rolls back unless commit() succeeded
    virtual Result<void> commit() = 0;
};

}  // namespace saslguard::receiver::store
