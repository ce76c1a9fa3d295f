package fsm_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// A driver feeds inputs with the current time, carries out the returned
// actions in order, and calls Tick when NextDeadline comes.
func Example() {
	m, err := fsm.New(fsm.Config{
		VRID:           51,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Version:        3,
		Primary:        netip.MustParseAddr("192.0.2.10"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(m.Start(now))
	fmt.Println("down timer in", m.NextDeadline().Sub(now))

	// No Master is heard: the down timer fires.
	now = m.NextDeadline()
	fmt.Println(m.Tick(now))

	// A Master with a higher priority appears.
	now = now.Add(300 * time.Millisecond)
	fmt.Println(m.ReceiveAdvert(fsm.Advert{
		Priority:          200,
		MaxAdvertInterval: time.Second,
		Source:            netip.MustParseAddr("192.0.2.20"),
	}, now))
	// Output:
	// [StateChanged(INIT->BACKUP: start) BecomeBackup]
	// down timer in 3.609375s
	// [StateChanged(BACKUP->MASTER: master down timer expired) SendAdvert(100) BecomeMaster]
	// [StateChanged(MASTER->BACKUP: advert with higher priority) BecomeBackup SendAdvert(0)]
}
