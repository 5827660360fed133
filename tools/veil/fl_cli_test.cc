// Placeholder: a helper is writing these end-to-end tests this session.
#include "gtest/gtest.h"
