package uitest

import (
	"os"
	"testing"

	"github.com/gesgo/ges/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
