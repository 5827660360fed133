#include "veil/anon/operators.h"
