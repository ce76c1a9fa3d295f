package wiring

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/guard"
)

// GuardRunner builds guard's runner for an instance (set its Local and Peer):
// its data files are found in redis.conf, then in guard.data_dir and
// guard.dbfilename, which win.
func GuardRunner(in config.Instance, log *zap.Logger) (*guard.Runner, error) {
	files, err := guard.ReadRedisConf(in.Guard.RedisConf, in.Guard.Include)
	if err != nil && (!errors.Is(err, fs.ErrNotExist) || in.Guard.DataDir == "") {
		return nil, fmt.Errorf("%w: guard: %w (set guard.redis_conf or guard.data_dir)", config.ErrConfig, err)
	}
	if in.Guard.DataDir != "" {
		files.Dir = in.Guard.DataDir
	}
	if in.Guard.DBFilename != "" {
		files.DBFilename = in.Guard.DBFilename
	}
	return &guard.Runner{Log: log, PeerAddr: in.Peer, LocalAnnounce: in.Announce,
		Files: files, Include: in.Guard.Include, RefuseDiverged: in.OnDiverged == config.DivergedRefuse, BackupDir: in.BackupDir, Instance: in.Name,
		Poll: 100 * time.Millisecond, Now: time.Now, Keep: in.BackupsKeep}, nil
}
