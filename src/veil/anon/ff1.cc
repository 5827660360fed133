#include "veil/anon/ff1.h"
