#include "veil/pii/evaluation.h"
