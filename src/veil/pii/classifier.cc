#include "veil/pii/classifier.h"
