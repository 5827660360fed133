// Privacy tests: the stochastic DP tester (dp_tester.h) run over Veil's mechanisms and aggregations.
#include "gtest/gtest.h"
#include "veil/dp/dp_tester.h"
